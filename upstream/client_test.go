package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// basePath mounts the fake server below a non-empty path, as go-github's setup does, so a
// client that drops the base URL's path fails the tests.
const basePath = "/vbo-base"

// fakeVBO is an httptest VBO server with hand-written payloads from testdata/.
type fakeVBO struct {
	t          *testing.T
	mux        *http.ServeMux
	srv        *httptest.Server
	tokenCalls atomic.Int32
	forms      chan map[string]string // token forms, if non-nil
	mu         sync.Mutex
	valid      map[string]bool // access tokens the server accepts
	issued     int
	expiresIn  int
}

func newFakeVBO(t *testing.T, version string) *fakeVBO {
	t.Helper()
	f := &fakeVBO{t: t, mux: http.NewServeMux(), valid: map[string]bool{}, expiresIn: 3600}
	f.mux.HandleFunc("POST "+basePath+"/"+version+"/token", f.token)
	f.srv = httptest.NewServer(f.mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVBO) token(w http.ResponseWriter, r *http.Request) {
	f.tokenCalls.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if f.forms != nil {
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		f.forms <- form
	}
	switch r.PostForm.Get("grant_type") {
	case "password":
		if r.PostForm.Get("username") != "svc" || r.PostForm.Get("password") != "pw" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"The user name or password is incorrect."}`)
			return
		}
	case "refresh_token":
		if r.PostForm.Get("refresh_token") == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	time.Sleep(20 * time.Millisecond) // a real token call is slow; widens the race window
	f.mu.Lock()
	f.issued++
	tok := "access-" + strconv.Itoa(f.issued)
	f.valid[tok] = true
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok, "refresh_token": "refresh-" + strconv.Itoa(f.issued), "token_type": "bearer",
		"expires_in": f.expiresIn, "userName": "svc",
		".issued": "Tue, 25 Nov 2026 01:00:00 GMT", ".expires": "Tue, 25 Nov 2026 02:00:00 GMT",
	})
}

// revokeAll makes the server reject every token issued so far.
func (f *fakeVBO) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.valid)
}

// handle registers an authenticated GET handler.
func (f *fakeVBO) handle(pattern string, h http.HandlerFunc) {
	f.mux.HandleFunc("GET "+basePath+pattern, func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("Authorization")
		f.mu.Lock()
		ok := len(tok) > 7 && f.valid[tok[7:]]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Authorization has been denied for this request."}`)
			return
		}
		h(w, r)
	})
}

func (f *fakeVBO) client(t *testing.T, o ClientOptions) *Client {
	t.Helper()
	if o.Name == "" {
		o.Name = "syd1"
	}
	if o.Username == "" {
		o.Username, o.Password = "svc", "pw"
	}
	c, err := NewClient(f.srv.URL+basePath, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func serveFile(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(b)
	}
}

func TestOrganizationsDecodesSpecPayload(t *testing.T) {
	f := newFakeVBO(t, "v6")
	f.handle("/v6/Organizations", serveFile("organizations_v6.json"))
	orgs, err := f.client(t, ClientOptions{}).Organizations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 2 {
		t.Fatalf("got %d orgs, want 2", len(orgs))
	}
	o := orgs[0]
	if o.ID != "0f4bd0a1-5a7e-4a55-9bd8-2b8d5b3e1c01" || o.Name != "Contoso Ltd" || o.OfficeName != "contoso.onmicrosoft.com" ||
		o.Type != OrganizationTypeOffice365 || o.Region != "Worldwide" || o.IsBackedup == nil || !*o.IsBackedup ||
		o.LastBackuptime == nil || !o.LastBackuptime.Equal(time.Date(2026, 11, 24, 22, 0, 41, 503e6, time.UTC)) {
		t.Errorf("org 0 decoded wrong: %+v", o)
	}
	if orgs[1].Type != "QuantumCloud" || orgs[1].IsBackedup != nil || orgs[1].LastBackuptime != nil {
		t.Errorf("unknown enum or nulls not kept: %+v", orgs[1])
	}
}

func TestRestoreSessionsAndEventsDecode(t *testing.T) {
	f := newFakeVBO(t, "v6")
	var gotQuery string
	f.handle("/v6/RestoreSessions", func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.RawQuery
		serveFile("restore_sessions_page.json")(w, r)
	})
	f.handle("/v6/RestoreSessions/{id}/Events", serveFile("events_page.json"))
	c := f.client(t, ClientOptions{})
	from := time.Date(2026, 11, 17, 10, 0, 0, 0, time.FixedZone("AEDT", 11*3600))
	page, _, err := c.RestoreSessions(context.Background(), RestoreSessionListOptions{
		ListOptions: ListOptions{Limit: 2}, StartTimeFrom: &from})
	if err != nil {
		t.Fatal(err)
	}
	if want := "limit=2&startTimeFrom=2026-11-16T23%3A00%3A00Z"; gotQuery != want {
		t.Errorf("query = %q, want %q (UTC)", gotQuery, want)
	}
	if page.Limit != 2 || page.SetID == "" || len(page.Results) != 2 || page.Links["next"].Href == "" || page.TotalCount != nil {
		t.Fatalf("envelope decoded wrong: %+v", page)
	}
	s := page.Results[0]
	if s.State != SessionStateWorking || s.EndTime != nil || s.Finished() || s.Type != SessionTypeExchange ||
		s.ClientHost != "BXYDEV01 (via: 203.0.113.7)" || s.InitiatedBy != `CONTOSO\svc-backup` || s.Organization != "Contoso Ltd" {
		t.Errorf("session 0 decoded wrong: %+v", s)
	}
	if page.Results[1].Type != "Vbackup" || !page.Results[1].Finished() {
		t.Errorf("unknown session type not kept: %+v", page.Results[1])
	}
	events, _, err := c.RestoreSessionEvents(context.Background(), s.ID, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := events.Results[1]
	if ev.Type != EventTypeRestore || ev.Status != EventStatusWarning || ev.ItemSizeBytes == nil ||
		*ev.ItemSizeBytes != 5368709120 || ev.Duration != "00:00:00.5446928" || ev.Order != 1 {
		t.Errorf("event decoded wrong: %+v", ev)
	}
}

func TestTokenSharedByConcurrentCallers(t *testing.T) {
	f := newFakeVBO(t, "v6")
	f.handle("/v6/Organizations", serveFile("organizations_v6.json"))
	c := f.client(t, ClientOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := c.Organizations(context.Background())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Errorf("token calls = %d, want exactly 1 for 50 concurrent requests", n)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	f := newFakeVBO(t, "v7")
	f.forms = make(chan map[string]string, 4)
	f.handle("/v7/Organizations", serveFile("organizations_v6.json"))
	now := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := f.client(t, ClientOptions{APIVersion: "v7", now: clock})
	ctx := context.Background()

	if _, err := c.Organizations(ctx); err != nil {
		t.Fatal(err)
	}
	first := <-f.forms
	if first["grant_type"] != "password" || first["username"] != "svc" || first["disable_antiforgery_token"] != "true" {
		t.Errorf("first token form = %v, want password grant with disable_antiforgery_token=true (v7)", first)
	}
	// Still well before expiry: no token call.
	mu.Lock()
	now = now.Add(30 * time.Minute)
	mu.Unlock()
	if _, err := c.Organizations(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Fatalf("token calls = %d after 30 min, want 1", n)
	}
	// Inside the refresh margin: the refresh_token grant is used.
	mu.Lock()
	now = now.Add(29*time.Minute + 30*time.Second)
	mu.Unlock()
	if _, err := c.Organizations(ctx); err != nil {
		t.Fatal(err)
	}
	second := <-f.forms
	if second["grant_type"] != "refresh_token" || second["refresh_token"] != "refresh-1" {
		t.Errorf("second token form = %v, want refresh_token grant with refresh-1", second)
	}
}

func TestReauthenticatesOnceOn401(t *testing.T) {
	f := newFakeVBO(t, "v6")
	var calls atomic.Int32
	f.handle("/v6/Organizations", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		serveFile("organizations_v6.json")(w, r)
	})
	c := f.client(t, ClientOptions{})
	ctx := context.Background()
	if _, err := c.Organizations(ctx); err != nil {
		t.Fatal(err)
	}
	f.revokeAll() // e.g. the VBO service restarted
	if _, err := c.Organizations(ctx); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if got := f.tokenCalls.Load(); got != 2 {
		t.Errorf("token calls = %d, want 2 (initial + one re-login)", got)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("organization calls reaching the handler = %d, want 2", got)
	}
}

func TestPersistent401IsTyped(t *testing.T) {
	f := newFakeVBO(t, "v6")
	f.mux.HandleFunc("GET "+basePath+"/v6/Organizations", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
	_, err := f.client(t, ClientOptions{}).Organizations(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if got := f.tokenCalls.Load(); got != 2 {
		t.Errorf("token calls = %d, want 2 (one retry only)", got)
	}
}

func TestWrongCredentials(t *testing.T) {
	f := newFakeVBO(t, "v6")
	f.handle("/v6/Organizations", serveFile("organizations_v6.json"))
	c := f.client(t, ClientOptions{Username: "svc", Password: "wrong"})
	_, err := c.Organizations(context.Background())
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want *Error matching ErrUnauthorized", err)
	}
	if e.Server != "syd1" || e.Message != "The user name or password is incorrect." || e.ErrorCode != "invalid_grant" {
		t.Errorf("error fields = %+v", e)
	}
}

func TestErrorTyping(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		sentinel   error
		message    string
		code       string
		retryAfter time.Duration
	}{
		{"not found", 404, nil, `{"message":"Restore session with ID 'x' was not found."}`, ErrNotFound, "Restore session with ID 'x' was not found.", "", 0},
		{"bad request", 400, nil, `{"message":"Invalid limit."}`, ErrBadRequest, "Invalid limit.", "", 0},
		{"proxy offline", 500, nil, `{"message":"Proxy is offline","errorCode":"ProxyOffline"}`, nil, "Proxy is offline", "ProxyOffline", 0},
		{"html 502", 502, nil, "<html>\n<body><h1>502 Bad Gateway</h1></body></html>", ErrUnavailable, "<html> <body><h1>502 Bad Gateway</h1></body></html>", "", 0},
		{"empty 503", 503, nil, "", ErrUnavailable, "", "", 0},
		{"429", 429, map[string]string{"Retry-After": "7"}, "", ErrUnavailable, "", "", 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeVBO(t, "v6")
			f.handle("/v6/RestoreSessions/{id}", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, _, err := f.client(t, ClientOptions{}).RestoreSession(context.Background(), "x")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.StatusCode != tt.status || e.Message != tt.message || e.ErrorCode != tt.code ||
				e.RetryAfter != tt.retryAfter || e.Method != "GET" || e.Path != basePath+"/v6/RestoreSessions/x" {
				t.Errorf("error = %+v", e)
			}
			for _, s := range []error{ErrNotFound, ErrUnauthorized, ErrUnavailable, ErrBadRequest} {
				if errors.Is(err, s) != (s == tt.sentinel) {
					t.Errorf("errors.Is(err, %v) = %v", s, !(s == tt.sentinel))
				}
			}
		})
	}
}

func TestTransportErrorIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := NewClient(url, ClientOptions{Name: "down"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Organizations(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestContextCancelStopsWaiting(t *testing.T) {
	f := newFakeVBO(t, "v6")
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	f.handle("/v6/Organizations", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := f.client(t, ClientOptions{}).Organizations(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestIteratorWalksPages(t *testing.T) {
	const total = 2503
	f := newFakeVBO(t, "v6")
	var calls []string
	f.handle("/v6/RestoreSessions", func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.URL.RawQuery)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		page := Page[RestoreSession]{Offset: offset, Limit: limit, Results: []RestoreSession{}}
		for i := offset; i < min(offset+limit, total); i++ {
			page.Results = append(page.Results, RestoreSession{ID: strconv.Itoa(i), Type: "Vex", State: "Stopped", Result: "Success"})
		}
		json.NewEncoder(w).Encode(page)
	})
	var n int
	for s, err := range f.client(t, ClientOptions{}).RestoreSessionsIter(context.Background(), RestoreSessionListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if s.ID != strconv.Itoa(n) {
			t.Fatalf("item %d has id %s", n, s.ID)
		}
		n++
	}
	if n != total {
		t.Errorf("walked %d sessions, want %d", n, total)
	}
	want := []string{"limit=1000", "limit=1000&offset=1000", "limit=1000&offset=2000"}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
	// Stopping early makes no further calls.
	calls = nil
	for range f.client(t, ClientOptions{}).RestoreSessionsIter(context.Background(), RestoreSessionListOptions{ListOptions: ListOptions{Limit: 10}}) {
		break
	}
	if len(calls) != 1 {
		t.Errorf("early break made %d calls, want 1", len(calls))
	}
}

func TestV8OrganizationsArePaged(t *testing.T) {
	f := newFakeVBO(t, "v8")
	f.handle("/v8/Organizations", func(w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		page := Page[Organization]{Offset: offset, Limit: 2} // server caps the page at 2
		for i := offset; i < min(offset+2, 5); i++ {
			page.Results = append(page.Results, Organization{ID: strconv.Itoa(i), Name: "Org " + strconv.Itoa(i)})
		}
		json.NewEncoder(w).Encode(page)
	})
	var counter CallCounter
	orgs, err := f.client(t, ClientOptions{APIVersion: "v8"}).Organizations(WithCallCounter(context.Background(), &counter))
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 5 || orgs[4].ID != "4" {
		t.Errorf("got %d orgs (%+v), want 5", len(orgs), orgs)
	}
	// Three pages (the server caps them at 2), the token grant not counted.
	if n := counter.Calls(); n != 3 {
		t.Errorf("counted %d calls, want 3", n)
	}
}

func TestKnownOrganizations(t *testing.T) {
	f := newFakeVBO(t, "v6")
	var fail atomic.Bool
	f.handle("/v6/Organizations", func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode([]Organization{{ID: "1", Name: "A"}, {ID: "2", Name: "B"}})
	})
	c := f.client(t, ClientOptions{})
	if _, ok := c.KnownOrganizations(); ok {
		t.Fatal("known before any listing")
	}
	if _, err := c.Organizations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, ok := c.KnownOrganizations(); !ok || n != 2 {
		t.Fatalf("KnownOrganizations = %d, %v; want 2, true", n, ok)
	}
	fail.Store(true)
	if _, err := c.Organizations(context.Background()); err == nil {
		t.Fatal("want an error")
	}
	if n, ok := c.KnownOrganizations(); !ok || n != 2 {
		t.Fatalf("after a failure: %d, %v; want the last known 2", n, ok)
	}
}

func TestV8OrganizationsAskForTheLargestPage(t *testing.T) {
	f := newFakeVBO(t, "v8")
	var limits []string
	f.handle("/v8/Organizations", func(w http.ResponseWriter, r *http.Request) {
		limits = append(limits, r.URL.Query().Get("limit"))
		json.NewEncoder(w).Encode(Page[Organization]{Limit: 10000, Results: []Organization{{ID: "1", Name: "A"}}})
	})
	if _, err := f.client(t, ClientOptions{APIVersion: "v8"}).Organizations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(limits) != "[10000]" {
		t.Errorf("limits asked = %v, want one call with 10000", limits)
	}
}

// The call counter counts logical calls: a retried call and a re-authenticated one count once.
func TestCallCounterCountsLogicalCalls(t *testing.T) {
	f := newFakeVBO(t, "v6")
	var hits atomic.Int64
	f.handle("/v6/RestoreSessions/s1", func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(RestoreSession{ID: "s1", Type: "Vex", State: "Stopped", Result: "Success"})
	})
	var counter CallCounter
	c := f.client(t, ClientOptions{Retry: RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
	if _, _, err := c.RestoreSession(WithCallCounter(context.Background(), &counter), "s1"); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 || counter.Calls() != 1 {
		t.Errorf("%d attempts, %d counted; want 2 attempts counted as 1 call", hits.Load(), counter.Calls())
	}
	// Without a counter in the context nothing is counted, nothing fails.
	if _, _, err := c.RestoreSession(context.Background(), "s1"); err != nil {
		t.Fatal(err)
	}
	if counter.Calls() != 1 {
		t.Errorf("counted %d, want still 1", counter.Calls())
	}
}

func TestTLSPinning(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"a","expires_in":3600}`)
	}))
	t.Cleanup(srv.Close)
	right := Fingerprint(srv.Certificate().Raw)
	wrong := Fingerprint([]byte("another certificate"))
	tests := []struct {
		name    string
		cfg     TLSConfig
		wantErr bool
	}{
		{"system roots refuse self-signed", TLSConfig{}, true},
		{"right pin", TLSConfig{FingerprintSHA256: right}, false},
		{"right pin with colons, upper case", TLSConfig{FingerprintSHA256: colonHex(right)}, false},
		{"wrong pin", TLSConfig{FingerprintSHA256: wrong}, true},
		{"insecure", TLSConfig{InsecureSkipVerify: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(srv.URL, ClientOptions{Name: "tls", TLS: tt.cfg})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Token(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
	if _, err := NewClient(srv.URL, ClientOptions{TLS: TLSConfig{FingerprintSHA256: "abc"}}); err == nil {
		t.Error("malformed fingerprint accepted")
	}
}

func colonHex(h string) string {
	out := make([]byte, 0, len(h)*3/2)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, h[i]-32*boolToByte(h[i] >= 'a'), h[i+1]-32*boolToByte(h[i+1] >= 'a'))
	}
	return string(out)
}

func boolToByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func TestNewClientValidates(t *testing.T) {
	for _, tt := range []struct {
		url  string
		opts ClientOptions
	}{
		{"ftp://x", ClientOptions{}},
		{"not a url", ClientOptions{}},
		{"https://x:4443", ClientOptions{APIVersion: "v5"}},
		{"https://x:4443", ClientOptions{MaxConcurrency: -1}},
	} {
		if _, err := NewClient(tt.url, tt.opts); err == nil {
			t.Errorf("NewClient(%q) accepted", tt.url)
		}
	}
}

func TestFleet(t *testing.T) {
	a, _ := NewClient("http://a", ClientOptions{Name: "syd1"})
	b, _ := NewClient("http://b", ClientOptions{Name: "mel1"})
	f, err := NewFleet(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); fmt.Sprint(got) != "[syd1 mel1]" {
		t.Errorf("Names = %v", got)
	}
	if c, ok := f.Get("mel1"); !ok || c != b {
		t.Error("Get(mel1) failed")
	}
	if _, err := NewFleet(a, a); err == nil {
		t.Error("duplicate names accepted")
	}
	unnamed, _ := NewClient("http://c", ClientOptions{})
	if _, err := NewFleet(unnamed); err == nil {
		t.Error("unnamed client accepted")
	}
}
