package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport is gqlgen's transport.POST (same requests, media types, status codes and
// bodies) with one difference: the response's data, which the executor has already written as
// compact JSON, is copied into the answer as it is. transport.POST encodes the whole response
// with encoding/json, which scans (compacts and validates) every byte of that data again: about
// a tenth of the gateway's CPU on a 50-row page (docs/benchmarks.md).
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool { return transport.POST{}.Supports(r) }

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseMediaType(r)
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %v", err)}))
		return
	}
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %v", err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	rc, opErrs := exec.CreateOperationContext(ctx, params)
	if opErrs != nil {
		w.WriteHeader(operationErrorStatus(contentType, opErrs))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErrs))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	// An executed operation's answer goes out whole, with its length: net/http then sends it
	// as it is instead of in chunks (one write system call fewer per response). Answers
	// written after a status (above) may be rewritten on the way (specWriter) and keep
	// net/http's framing.
	b := encodeResponse(responses(ctx))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// operationErrorStatus is transport.POST's status for an operation that failed before
// execution (specTransport then corrects request errors per the specification).
func operationErrorStatus(contentType string, errs gqlerror.List) int {
	if errcode.GetErrorKind(errs) != errcode.KindProtocol {
		return http.StatusOK
	}
	if contentType == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// responseTail is the part of a graphql.Response after its data, in encoding/json's order.
type responseTail struct {
	Label      string         `json:"label,omitempty"`
	Path       ast.Path       `json:"path,omitempty"`
	HasNext    *bool          `json:"hasNext,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// appendResponse appends resp as JSON, member for member what encoding/json writes for a
// graphql.Response, with its data copied as it is (the executor's own compact JSON). A nil
// resp is null, as encoding/json writes it: the executor answers nil for a subscription whose
// stream ends before its first event (posted as a plain request, at the request's deadline or
// when the client goes away).
func appendResponse(b []byte, resp *graphql.Response) ([]byte, error) {
	if resp == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, `"errors":`...), errs...), ',')
	}
	b = append(b, `"data":`...)
	if len(resp.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, resp.Data...)
	}
	tail, err := json.Marshal(responseTail{Label: resp.Label, Path: resp.Path, HasNext: resp.HasNext, Extensions: resp.Extensions})
	if err != nil {
		return nil, err
	}
	if len(tail) > 2 { // not {}
		b = append(append(b, ','), tail[1:len(tail)-1]...)
	}
	return append(b, '}'), nil
}

// writeResponse writes resp in one Write (see encodeResponse).
func writeResponse(w io.Writer, resp *graphql.Response) {
	_, _ = w.Write(encodeResponse(resp))
}

// encodeResponse is resp as JSON; a response that cannot be encoded (an extension holding a
// value encoding/json refuses) becomes a GraphQL error.
func encodeResponse(resp *graphql.Response) []byte {
	var size int
	if resp != nil {
		size = len(resp.Data)
	}
	b, err := appendResponse(make([]byte, 0, size+256), resp)
	if err != nil {
		b, _ = json.Marshal(&graphql.Response{Errors: gqlerror.List{{Message: "internal system error: the response could not be encoded"}}})
	}
	return b
}
