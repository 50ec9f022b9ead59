package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/) status codes and bodies.
//
// gqlgen's POST and GET transports negotiate the media type (application/json, or
// application/graphql-response+json when the client asks for it), decode the parameters and
// answer undecodable ones with 400. What they get wrong is the answer to a request error (the
// document does not parse or validate, or the variables do not coerce): 422 under
// application/json, where the specification wants 200, and a "data": null entry under both,
// where a request error has no data entry at all. specTransport corrects exactly that, around
// gqlgen's own transports:
//
//	                                       application/json        application/graphql-response+json
//	invalid parameters (no query)          400, no data            400, no data
//	parse, validation, variable coercion   200, no data            400, no data
//	undecodable body or parameters         400, no data            400, no data
//
// Everything else passes unchanged, the gateway's own refusals included: query limits and
// persisted-query errors answer 200 with "data": null (documented), and the refusals made
// before the executor (authentication 401, rate 429, body size, CSRF) never reach a transport.
type specTransport struct{ graphql.Transport }

// mediaGraphQLResponse is the specification's own response media type (application/json is the
// other, and the default).
const mediaGraphQLResponse = "application/graphql-response+json"

func (t specTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	rec := &requestErrorRecorder{GraphExecutor: exec}
	sw := &specWriter{ResponseWriter: w, rec: rec}
	t.Transport.Do(sw, r, rec)
	sw.finish()
}

// requestErrorRecorder notes whether the operation failed before execution with a request error
// (gqlgen's GRAPHQL_PARSE_FAILED or GRAPHQL_VALIDATION_FAILED), and whether the request had no
// query at all (an invalid request, not a document error).
type requestErrorRecorder struct {
	graphql.GraphExecutor
	requestError bool
	noQuery      bool
}

func (e *requestErrorRecorder) CreateOperationContext(ctx context.Context, p *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	oc, errs := e.GraphExecutor.CreateOperationContext(ctx, p)
	if len(errs) > 0 && errcode.GetErrorKind(errs) == errcode.KindProtocol {
		e.requestError = true
		e.noQuery = p.Query == "" // after the parameter mutators: APQ has filled in a registered query
	}
	return oc, errs
}

// requestErrorStatus is the status of a request error under the response's media type.
func requestErrorStatus(contentType string, noQuery bool) int {
	mt, _, _ := mime.ParseMediaType(contentType)
	if noQuery || mt == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// specWriter sets the status of a request error and holds back every error answer the transport
// writes before execution, to write it again without its "data" entry. Responses of executed
// operations pass straight through.
type specWriter struct {
	http.ResponseWriter
	rec         *requestErrorRecorder
	wroteHeader bool
	held        *bytes.Buffer // an error answer, written by finish
}

func (w *specWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	if w.rec.requestError {
		status = requestErrorStatus(w.Header().Get("Content-Type"), w.rec.noQuery)
	}
	if w.rec.requestError || status >= http.StatusBadRequest {
		w.held = new(bytes.Buffer)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *specWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.held != nil {
		return w.held.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *specWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *specWriter) finish() {
	if w.held != nil {
		_, _ = w.ResponseWriter.Write(withoutNullData(w.held.Bytes()))
	}
}

// withoutNullData drops a null "data" entry from a GraphQL error response (a request that
// never reached execution has no data entry). Anything else is returned as it is.
func withoutNullData(body []byte) []byte {
	var resp struct {
		Errors     json.RawMessage `json:"errors,omitempty"`
		Data       json.RawMessage `json:"data,omitempty"`
		Extensions json.RawMessage `json:"extensions,omitempty"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil || dec.More() || len(resp.Errors) == 0 {
		return body
	}
	if len(resp.Data) > 0 && string(resp.Data) != "null" {
		return body
	}
	resp.Data = nil
	out, err := json.Marshal(resp)
	if err != nil {
		return body
	}
	return out
}
