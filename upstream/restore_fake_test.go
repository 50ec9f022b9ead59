package upstream

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// restoreVBO is an httptest VBO for the restore calls: it grants tokens, records every other
// request (method, escaped path, query, body) and answers with reply, which sees the 1-based
// number of the call.
type restoreVBO struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []seenRequest
	reply func(w http.ResponseWriter, r *http.Request, n int)
}

type seenRequest struct {
	Method, Path, Query, ContentType string
	Body                             []byte
}

func newRestoreVBO(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int)) *restoreVBO {
	t.Helper()
	f := &restoreVBO{t: t, reply: reply}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/token") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"tok","refresh_token":"ref","expires_in":3600}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seenRequest{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			ContentType: r.Header.Get("Content-Type"), Body: body})
		n := len(f.reqs)
		f.mu.Unlock()
		f.reply(w, r, n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *restoreVBO) client(t *testing.T, version string, o ClientOptions) *Client {
	t.Helper()
	o.Name, o.APIVersion, o.Username, o.Password = "syd1", version, "svc", "pw"
	c, err := NewClient(f.srv.URL+basePath, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *restoreVBO) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.reqs...)
}

// only returns the one request the fake saw, failing the test otherwise.
func (f *restoreVBO) only(t *testing.T) seenRequest {
	t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("want exactly 1 request, got %d: %+v", len(reqs), reqs)
	}
	return reqs[0]
}

// replyJSON answers status with body.
func replyJSON(status int, body string) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// sameJSON fails unless got and want hold the same JSON value.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("body\n got %s\nwant %s", gb, wb)
	}
}

// resetConnection answers nothing: it hijacks the connection and closes it, after the request
// was read (a VBO that died mid-call).
func resetConnection(w http.ResponseWriter, r *http.Request, n int) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

const sessionJSON = `{"id":"6f0ec0b1-5d1a-4a6e-9d2b-0c7a1f2e3d4c","name":"Exchange restore","organization":"Contoso",
"type":"Vex","creationTime":"2026-11-25T01:00:00Z","endTime":null,"state":"Working","result":"Success",
"initiatedBy":"svc","clientHost":"10.0.0.5"}`

func parseQuery(s string) (url.Values, error) { return url.ParseQuery(s) }

// itemJSON is the item object the fake answers for a read of item id (with VBO's _links, which
// the client leaves out of an action's body); itemBody is it as the body carries it.
func itemJSON(id string) string {
	return `{"id":"` + id + `","name":"` + id + `.docx","createdBy":"Ann","creationTime":"2026-01-01T00:00:00Z",` +
		`"modifiedBy":"Bob","modificationTime":"2026-01-02T00:00:00Z","sizeBytes":10,"_links":{"self":{"href":"/x/` + id + `"}}}`
}

func itemBody(id string) string {
	return `{"id":"` + id + `","name":"` + id + `.docx","createdBy":"Ann","creationTime":"2026-01-01T00:00:00Z",` +
		`"modifiedBy":"Bob","modificationTime":"2026-01-02T00:00:00Z","sizeBytes":10}`
}

// withItemReads answers the client's item reads (GETs) with itemJSON of the path's last
// segment, and the rest with reply.
func withItemReads(reply func(w http.ResponseWriter, r *http.Request, n int)) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method != http.MethodGet {
			reply(w, r, n)
			return
		}
		p := strings.Split(r.URL.Path, "/")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, itemJSON(p[len(p)-1]))
	}
}

// action returns the one POST the fake saw, failing the test otherwise; reads are the GETs'
// paths (unescaped) in the order they arrived.
func (f *restoreVBO) action(t *testing.T) (post seenRequest, reads []string) {
	t.Helper()
	var posts []seenRequest
	for _, r := range f.requests() {
		if r.Method == http.MethodPost {
			posts = append(posts, r)
		} else {
			reads = append(reads, r.Path)
		}
	}
	if len(posts) != 1 {
		t.Fatalf("want exactly 1 POST, got %d: %+v", len(posts), posts)
	}
	return posts[0], reads
}

// checkReads compares the item reads the fake saw with want (paths after
// /vbo-base/{version}/RestoreSessions/s1).
func checkReads(t *testing.T, version string, got, want []string) {
	t.Helper()
	w := make([]string, len(want))
	for i, p := range want {
		w[i] = "/vbo-base/" + version + "/RestoreSessions/s1" + p
	}
	if strings.Join(got, " ") != strings.Join(w, " ") {
		t.Errorf("item reads %v, want %v", got, w)
	}
}
