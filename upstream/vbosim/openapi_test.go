package vbosim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func init() {
	// kin-openapi does not check "uuid" by default; make the contract test strict about it.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
}

func loadSpec(t *testing.T, ver string) *openapi3.T {
	t.Helper()
	p := filepath.Join("..", "..", "testdata", "openapi", "vb365_rest_"+ver+".trimmed.json")
	l := openapi3.NewLoader()
	doc, err := l.LoadFromFile(p)
	if err != nil {
		t.Fatalf("load %s: %v", p, err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		t.Logf("note: %s does not fully validate as OpenAPI (%v); continuing", p, err)
	}
	return doc
}

// TestOpenAPIContract calls every simulator operation, including error cases, and validates
// each response against the trimmed VBM365 OpenAPI document.
func TestOpenAPIContract(t *testing.T) {
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			doc := loadSpec(t, ver)
			h := newHarness(t, Options{APIVersion: ver, Sessions: 60, Orgs: 5})
			tok := h.login()
			// pick ids
			sessions := h.sim.Sessions()
			var working, failed upstream.RestoreSession
			for _, s := range sessions {
				if s.State == upstream.SessionStateWorking && working.ID == "" {
					working = s
				}
				if s.Result == upstream.SessionResultFailed && failed.ID == "" {
					failed = s
				}
			}
			if working.ID == "" {
				t.Fatal("no working session generated")
			}
			sid := sessions[len(sessions)/2].ID
			evs := h.sim.Events(sid)
			orgID := h.sim.Organizations()[0].ID
			missing := "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
			auth := map[string]string{"Authorization": "Bearer " + tok.AccessToken}
			v := "/" + ver

			type call struct {
				name, method, tmpl, path string
				body                     string
				hdr                      map[string]string
				status                   int
			}
			jsonHdr := map[string]string{"Content-Type": "application/json"}
			calls := []call{
				{"token password form", "POST", "/token", "/token", "grant_type=password&username=admin&password=password", formHdr, 200},
				{"token password json", "POST", "/token", "/token", `{"grant_type":"password","username":"admin","password":"password","disable_antiforgery_token":true}`, jsonHdr, 200},
				{"token refresh", "POST", "/token", "/token", "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok.RefreshToken), formHdr, 200},
				{"token bad creds", "POST", "/token", "/token", "grant_type=password&username=admin&password=nope", formHdr, 400},
				{"token bad refresh", "POST", "/token", "/token", "grant_type=refresh_token&refresh_token=garbage", formHdr, 400},
				{"token bad grant", "POST", "/token", "/token", "grant_type=client_credentials", formHdr, 400},
				{"orgs", "GET", "/Organizations", "/Organizations", "", auth, 200},
				{"orgs extended", "GET", "/Organizations", "/Organizations?extendedView=true", "", auth, 200},
				{"orgs no auth", "GET", "/Organizations", "/Organizations", "", nil, 401},
				{"org", "GET", "/Organizations/{organizationId}", "/Organizations/" + orgID, "", auth, 200},
				{"org missing", "GET", "/Organizations/{organizationId}", "/Organizations/" + missing, "", auth, 404},
				{"org malformed", "GET", "/Organizations/{organizationId}", "/Organizations/not-a-uuid", "", auth, 400},
				{"sessions", "GET", "/RestoreSessions", "/RestoreSessions", "", auth, 200},
				{"sessions paged", "GET", "/RestoreSessions", "/RestoreSessions?limit=7&offset=7&startTimeFrom=2026-09-01T00:00:00Z", "", auth, 200},
				{"sessions bad limit", "GET", "/RestoreSessions", "/RestoreSessions?limit=0", "", auth, 400},
				{"sessions bad time", "GET", "/RestoreSessions", "/RestoreSessions?startTimeFrom=yesterday", "", auth, 400},
				{"sessions garbage token", "GET", "/RestoreSessions", "/RestoreSessions", "", map[string]string{"Authorization": "Bearer abc.def.ghi"}, 401},
				{"session", "GET", "/RestoreSessions/{restoreSessionId}", "/RestoreSessions/" + sid, "", auth, 200},
				{"session working", "GET", "/RestoreSessions/{restoreSessionId}", "/RestoreSessions/" + working.ID, "", auth, 200},
				{"session missing", "GET", "/RestoreSessions/{restoreSessionId}", "/RestoreSessions/" + missing, "", auth, 404},
				{"session no auth", "GET", "/RestoreSessions/{restoreSessionId}", "/RestoreSessions/" + sid, "", nil, 401},
				{"events", "GET", "/RestoreSessions/{restoreSessionId}/Events", "/RestoreSessions/" + sid + "/Events?limit=1000", "", auth, 200},
				{"events working", "GET", "/RestoreSessions/{restoreSessionId}/Events", "/RestoreSessions/" + working.ID + "/Events", "", auth, 200},
				{"events missing", "GET", "/RestoreSessions/{restoreSessionId}/Events", "/RestoreSessions/" + missing + "/Events", "", auth, 404},
				{"events bad offset", "GET", "/RestoreSessions/{restoreSessionId}/Events", "/RestoreSessions/" + sid + "/Events?offset=-1", "", auth, 400},
				{"event", "GET", "/RestoreSessions/{restoreSessionId}/Events/{eventId}", "/RestoreSessions/" + sid + "/Events/" + evs[len(evs)-1].ID, "", auth, 200},
				{"event missing", "GET", "/RestoreSessions/{restoreSessionId}/Events/{eventId}", "/RestoreSessions/" + sid + "/Events/" + missing, "", auth, 404},
				{"event no auth", "GET", "/RestoreSessions/{restoreSessionId}/Events/{eventId}", "/RestoreSessions/" + sid + "/Events/" + evs[0].ID, "", nil, 401},
			}
			if failed.ID != "" {
				calls = append(calls, call{"events failed", "GET", "/RestoreSessions/{restoreSessionId}/Events", "/RestoreSessions/" + failed.ID + "/Events", "", auth, 200})
			}
			for _, c := range calls {
				t.Run(c.name, func(t *testing.T) {
					var body io.Reader
					if c.body != "" {
						body = strings.NewReader(c.body)
					}
					r := h.do(c.method, v+c.path, body, c.hdr)
					if r.status != c.status {
						t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
					}
					if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
						t.Errorf("Content-Type %q", ct)
					}
					validateResponse(t, doc, c.method, v+c.tmpl, v+c.path, r)
				})
			}
			t.Run("restore", func(t *testing.T) { contractRestore(t, doc, h, ver) })
			t.Run("gateway actions", func(t *testing.T) { contractGatewayActions(t, doc, ver) })
		})
	}
}

// validateRequest checks a request (path, query and JSON body) against the document.
func validateRequest(t *testing.T, doc *openapi3.T, method, tmpl, path, body string) {
	t.Helper()
	if err := requestError(doc, method, tmpl, path, body); err != nil {
		t.Errorf("request does not match the spec: %v\nbody: %.600s", err, body)
	}
}

// requestError is the document's verdict on a request (nil: valid).
func requestError(doc *openapi3.T, method, tmpl, path, body string) error {
	item := doc.Paths.Value(tmpl)
	if item == nil {
		return fmt.Errorf("template %s not in spec", tmpl)
	}
	op := item.GetOperation(method)
	if op == nil {
		return fmt.Errorf("%s %s not in spec", method, tmpl)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "https://localhost:4443"+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	pathParams := map[string]string{}
	ts, ps := strings.Split(tmpl, "/"), strings.Split(strings.SplitN(path, "?", 2)[0], "/")
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") && i < len(ps) {
			u, _ := url.PathUnescape(ps[i])
			pathParams[strings.Trim(ts[i], "{}")] = u
		}
	}
	route := &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	return openapi3filter.ValidateRequest(context.Background(), in)
}

func validateResponse(t *testing.T, doc *openapi3.T, method, tmpl, path string, r resp) {
	t.Helper()
	item := doc.Paths.Value(tmpl)
	if item == nil {
		t.Fatalf("template %s not in spec", tmpl)
	}
	op := item.GetOperation(method)
	if op == nil {
		t.Fatalf("%s %s not in spec", method, tmpl)
	}
	req, _ := http.NewRequest(method, "https://localhost:4443"+path, nil)
	route := &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if r.header.Get("Content-Type") == "application/octet-stream" {
		// the documents give file downloads the schema {"type":"object"}, which no byte stream
		// satisfies: check that the operation declares octet-stream for the status, not the bytes
		rr := op.Responses.Status(r.status)
		if rr == nil || rr.Value.Content.Get("application/octet-stream") == nil {
			t.Errorf("%s %s: status %d has no application/octet-stream response in the spec", method, tmpl, r.status)
		}
		in.Options.ExcludeResponseBody = true
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("response does not match the spec: %v\nbody: %.600s", err, r.body)
	}
}

// TestOpenAPIValidatorCatchesErrors makes sure the contract test is not vacuous.
func TestOpenAPIValidatorCatchesErrors(t *testing.T) {
	doc := loadSpec(t, "v6")
	bad := []struct{ tmpl, body string }{
		{"/v6/RestoreSessions", `{"offset":0,"limit":30,"results":[{"id":"x","type":"Vex","creationTime":"2026-01-01T00:00:00Z","state":"Working","result":"Success"}]}`},
		{"/v6/RestoreSessions", `{"offset":0,"limit":30,"results":[{"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","type":"Vex","creationTime":"2026-01-01T00:00:00Z","state":"Running","result":"Success"}]}`},
		{"/v6/RestoreSessions/{restoreSessionId}/Events/{eventId}", `{"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","status":"Success","startTime":"2026-01-01T00:00:00Z","order":0}`},
		{"/v6/token", `{"access_token":"a","refresh_token":"b","token_type":"bearer","expires_in":3600,"userName":"admin",".issued":"Tue, 25 Nov 2026 01:00:00 GMT",".expires":"Tue, 25 Nov 2026 02:00:00 GMT"}`},
	}
	for _, b := range bad {
		method := "GET"
		if strings.HasSuffix(b.tmpl, "token") {
			method = "POST"
		}
		item := doc.Paths.Value(b.tmpl)
		req, _ := http.NewRequest(method, "https://localhost:4443/x", nil)
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: &routers.Route{Spec: doc, Path: b.tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)}},
			Status:                 200,
			Header:                 http.Header{"Content-Type": {"application/json; charset=utf-8"}},
			Body:                   io.NopCloser(strings.NewReader(b.body)),
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err == nil {
			t.Errorf("%s: invalid body accepted: %s", b.tmpl, b.body)
		}
	}
}
