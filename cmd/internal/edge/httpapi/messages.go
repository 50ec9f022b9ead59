package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// maxMessageBytes bounds every error message the gateway sends: gqlgen and gqlparser quote the
// client's input (a string token, an enum value) in full.
const maxMessageBytes = 300

// Messages from gqlparser's variable coercion and gqlgen's scalars that name a Go kind or type
// where a client expects a JSON or GraphQL word.
var (
	reCannotUse  = regexp.MustCompile(`cannot use ([^ ]+) as `)
	reNotA       = regexp.MustCompile(`, not an? ([^ ]+)$`)
	reTypeIsNot  = regexp.MustCompile(`^([^ ]*[.\[{*][^ ]*|u?int\d*|float\d+|bool|string) is not (an? )`)
	reNotValid   = regexp.MustCompile(`^(?s)(.*) is not a valid ([_A-Za-z][_0-9A-Za-z]*)$`)
	reUnexpected = regexp.MustCompile(`^(?s)(Unexpected [A-Za-z]+ )"(.*)"$`)
	// gqlparser prints a JSON number that is not an integer with %d (as "value 0").
	reNotInt = regexp.MustCompile(`cannot use value -?\d+ as Int\b`)
)

// jsonWord names a Go kind or type the way a client's JSON would.
func jsonWord(goName string) string {
	switch goName {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct", "map[string]interface {}", "map[string]any":
		return "an object"
	case "slice", "array", "[]interface {}", "[]any":
		return "a list"
	case "invalid", "<nil>":
		return "null"
	}
	if strings.HasPrefix(goName, "int") || strings.HasPrefix(goName, "uint") || strings.HasPrefix(goName, "float") || goName == "json.Number" {
		return "a number"
	}
	return "a value"
}

// safeMessage rewrites msg so that it names no Go type and quotes at most a short excerpt of
// what the client sent.
func safeMessage(msg string) string {
	if m := reNotValid.FindStringSubmatch(msg); m != nil {
		msg = excerpt([]byte(m[1]), 0) + " is not a valid " + m[2]
	}
	if m := reUnexpected.FindStringSubmatch(msg); m != nil {
		msg = m[1] + excerpt([]byte(m[2]), 0)
	}
	msg = reNotInt.ReplaceAllString(msg, "cannot use a fraction as Int")
	msg = reCannotUse.ReplaceAllStringFunc(msg, func(s string) string {
		return "cannot use " + jsonWord(reCannotUse.FindStringSubmatch(s)[1]) + " as "
	})
	msg = reNotA.ReplaceAllStringFunc(msg, func(s string) string {
		return ", not " + jsonWord(reNotA.FindStringSubmatch(s)[1])
	})
	msg = reTypeIsNot.ReplaceAllString(msg, "the value is not $2")
	if len(msg) > maxMessageBytes {
		cut := maxMessageBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		// At a word's end when there is one in the last quarter: never "...the whole lis…".
		if sp := strings.LastIndexByte(msg[:cut], ' '); sp > maxMessageBytes*3/4 {
			cut = sp
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// safeMessages wraps an error presenter so that every message it returns is a safe one.
func safeMessages(inner graphql.ErrorPresenterFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		e := inner(ctx, err)
		if e != nil {
			e.Message = safeMessage(e.Message)
		}
		return e
	}
}

// answerLateStart makes sure an operation whose request context ended before it could execute
// (the deadline passed while it waited, or the client left) is answered with a GraphQL error
// naming the request id, never with a bare `null`: gqlgen's executor hands the transport a nil
// response in that case.
func answerLateStart(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	answered := false
	return func(ctx context.Context) *graphql.Response {
		if answered || ctx.Err() == nil {
			answered = true
			return h(ctx)
		}
		answered = true
		id := requestid.From(ctx)
		e := &gqlerror.Error{Message: "the request deadline passed before the query could run (request id " + id + ")",
			Extensions: map[string]any{"code": resolvers.CodeUpstreamTimeout}}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e.Message = "the request was cancelled before the query could run (request id " + id + ")"
			e.Extensions["code"] = resolvers.CodeInternal
		}
		return &graphql.Response{Errors: gqlerror.List{e}}
	}
}

// writeGraphQLError answers a request the executor never saw, in GraphQL's response shape.
func writeGraphQLError(w http.ResponseWriter, status int, code, msg string, ext map[string]any) {
	e := map[string]any{"code": code}
	for k, v := range ext {
		e[k] = v
	}
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": e}}, "data": nil})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
