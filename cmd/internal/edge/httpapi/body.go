package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// excerptBytes is the most of a client's input an error message quotes.
const excerptBytes = 24

// excerpt quotes at most excerptBytes of b from off, in ASCII (control bytes escaped).
func excerpt(b []byte, off int) string {
	off = min(max(off, 0), len(b))
	end := min(off+excerptBytes, len(b))
	s := strconv.QuoteToASCII(string(b[off:end]))
	if end < len(b) {
		s += "…"
	}
	return s
}

// limitBody caps what any handler can read from a body (nothing is read here).
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, n)
		}
		next.ServeHTTP(w, r)
	})
}

// readRequest reads a GraphQL request's body (an authenticated caller's: the auth gate runs
// first, on headers alone) and refuses what gqlgen would misread or echo back:
//
//   - a body over n bytes: 413 BAD_USER_INPUT naming maxBodyBytes;
//   - a JSON body that is not exactly one object (trailing data is refused), has a key twice
//     (which `query` would run?), or has parameters of the wrong JSON type: 400 BAD_USER_INPUT,
//     quoting at most a short excerpt of the body;
//   - a GET whose URL repeats a GraphQL parameter: 400.
func readRequest(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			q := r.URL.Query()
			for _, k := range []string{"query", "operationName", "variables", "extensions"} {
				if len(q[k]) > 1 {
					writeInvalidRequest(w, r, fmt.Sprintf("the URL has the %q parameter %d times; give it once", k, len(q[k])))
					return
				}
			}
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			writeGraphQLError(w, http.StatusRequestEntityTooLarge, resolvers.CodeBadUserInput,
				fmt.Sprintf("request body exceeds the limit (maxBodyBytes) of %d bytes", n),
				map[string]any{"limit": "maxBodyBytes", "max": n})
		}
		if r.ContentLength > n {
			tooLarge()
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, n))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				tooLarge()
				return
			}
			writeGraphQLError(w, http.StatusBadRequest, resolvers.CodeBadUserInput, "could not read the request body", nil)
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
			if msg := checkRequestJSON(b); msg != "" {
				writeInvalidRequest(w, r, msg)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
	})
}

// responseMediaType picks the response's media type from Accept as gqlgen's transports do:
// the first of application/json (also for */* and application/*) or
// application/graphql-response+json; application/json without an Accept header.
func responseMediaType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return "application/json"
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "*/*", "application/*", "application/json":
			return "application/json"
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// writeInvalidRequest answers a request that is not a well-formed GraphQL request: 400,
// BAD_USER_INPUT, no data entry (the operation never started), in the negotiated media type.
func writeInvalidRequest(w http.ResponseWriter, r *http.Request, msg string) {
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": msg,
		"extensions": map[string]any{"code": resolvers.CodeBadUserInput}}}})
	w.Header().Set("Content-Type", responseMediaType(r))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b)
}

// paramKinds are the JSON types a GraphQL-over-HTTP request's parameters may have (null is
// always allowed).
var paramKinds = map[string]struct {
	first byte
	what  string
}{
	"query":         {'"', "a string"},
	"operationName": {'"', "a string"},
	"variables":     {'{', "an object"},
	"extensions":    {'{', "an object"},
}

// checkRequestJSON returns why b is not a well-formed GraphQL request object ("" when it is).
// The messages quote at most an excerpt of b and never name Go types.
func checkRequestJSON(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	syntax := func(err error) string {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Sprintf("the request body is not valid JSON (at byte %d: %s)", se.Offset, excerpt(b, int(se.Offset)-1))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "the request body is not valid JSON (it ends early)"
		}
		return "the request body is not valid JSON"
	}
	tok, err := dec.Token()
	if err != nil {
		return syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Sprintf("the request body must be one JSON object, like {\"query\": \"{ viewer { role } }\"}; it starts with %s", excerpt(b, 0))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Sprintf("the request body has the key %s twice; give it once", excerpt([]byte(key), 0))
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return syntax(err)
		}
		if want, ok := paramKinds[key]; ok && len(v) > 0 && v[0] != want.first && !bytes.Equal(v, []byte("null")) {
			return fmt.Sprintf("%q must be %s", key, want.what)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return syntax(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		off := int(dec.InputOffset())
		for off < len(b) && (b[off] == ' ' || b[off] == '\t' || b[off] == '\n' || b[off] == '\r') {
			off++
		}
		return fmt.Sprintf("unexpected data after the request's JSON object (at byte %d: %s)", off, excerpt(b, off))
	}
	return ""
}
