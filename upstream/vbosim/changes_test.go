package vbosim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// changes GETs /v8/Events and decodes a 200 answer.
func (h *harness) changes(t *testing.T, from string, extra string) upstream.ChangePage {
	t.Helper()
	r := h.get("/v8/Events?from=" + url.QueryEscape(from) + extra)
	if r.status != http.StatusOK {
		t.Fatalf("GET /v8/Events: %d %s", r.status, r.body)
	}
	var p upstream.ChangePage
	mustJSON(t, r.body, &p)
	if p.NextChangeToken == "" || p.Results == nil {
		t.Fatalf("answer without nextChangeToken or results: %s", r.body)
	}
	return p
}

// latest is the feed's current token.
func (h *harness) latest(t *testing.T) string {
	t.Helper()
	return h.changes(t, "latest", "").NextChangeToken
}

func update(id string, etag int64, org string) upstream.ChangeEvent {
	return upstream.ChangeEvent{Type: upstream.ChangeRestoreSessionUpdate, ID: id, ETag: etag, OrganizationID: org}
}

func deleted(id string) upstream.ChangeEvent {
	return upstream.ChangeEvent{Type: upstream.ChangeRestoreSessionDelete, ID: id}
}

// TestChangeFeedReportsEveryChangeInOrder: creating a session, appending events, stopping and
// deleting it are update events (eTag as GET RestoreSessions/{id} then says) and a delete
// event, in the order they happened; nothing before the token is reported.
func TestChangeFeedReportsEveryChangeInOrder(t *testing.T) {
	t.Parallel()
	working := func(s *Server) string {
		for _, rs := range s.Sessions() {
			if rs.State == upstream.SessionStateWorking {
				return rs.ID
			}
		}
		t.Fatal("no working session generated")
		return ""
	}
	for _, tc := range []struct {
		name string
		opts ChangeFeedOptions
		// act changes the server and returns the events it must produce.
		act func(t *testing.T, s *Server, org string) []upstream.ChangeEvent
	}{
		{"create", ChangeFeedOptions{}, func(t *testing.T, s *Server, org string) []upstream.ChangeEvent {
			a := s.AddSession(upstream.RestoreSession{})
			return []upstream.ChangeEvent{update(a.ID, 1, org)}
		}},
		{"create, items, stop", ChangeFeedOptions{}, func(t *testing.T, s *Server, org string) []upstream.ChangeEvent {
			a := s.AddSession(upstream.RestoreSession{})
			addEvent(t, s, a.ID, upstream.RestoreSessionEvent{ItemName: "a.eml"})
			addEvent(t, s, a.ID, upstream.RestoreSessionEvent{ItemName: "b.eml"})
			mustNil(t, s.StopSession(a.ID, upstream.SessionResultWarning))
			return []upstream.ChangeEvent{update(a.ID, 1, org), update(a.ID, 2, org), update(a.ID, 3, org), update(a.ID, 4, org)}
		}},
		{"generated session stops", ChangeFeedOptions{}, func(t *testing.T, s *Server, _ string) []upstream.ChangeEvent {
			id := working(s)
			rs, _ := s.Session(id)
			org := orgIDByName(t, s, rs.Organization)
			mustNil(t, s.StopSession(id, ""))
			return []upstream.ChangeEvent{update(id, 2, org)}
		}},
		{"create then delete", ChangeFeedOptions{}, func(t *testing.T, s *Server, org string) []upstream.ChangeEvent {
			a := s.AddSession(upstream.RestoreSession{})
			mustNil(t, s.DeleteSession(a.ID))
			return []upstream.ChangeEvent{update(a.ID, 1, org), deleted(a.ID)}
		}},
		{"generated session pruned", ChangeFeedOptions{}, func(t *testing.T, s *Server, _ string) []upstream.ChangeEvent {
			old := s.Sessions()[len(s.Sessions())-1].ID
			mustNil(t, s.DeleteSession(old))
			return []upstream.ChangeEvent{deleted(old)}
		}},
		{"two sessions interleaved", ChangeFeedOptions{}, func(t *testing.T, s *Server, org string) []upstream.ChangeEvent {
			a := s.AddSession(upstream.RestoreSession{})
			b := s.AddSession(upstream.RestoreSession{})
			mustNil(t, s.StopSession(a.ID, ""))
			addEvent(t, s, b.ID, upstream.RestoreSessionEvent{})
			return []upstream.ChangeEvent{update(a.ID, 1, org), update(b.ID, 1, org), update(a.ID, 2, org), update(b.ID, 2, org)}
		}},
		{"without organizationId", ChangeFeedOptions{OmitOrganizationID: true}, func(t *testing.T, s *Server, _ string) []upstream.ChangeEvent {
			a := s.AddSession(upstream.RestoreSession{})
			return []upstream.ChangeEvent{update(a.ID, 1, "")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: "v8", Sessions: 40, Orgs: 3, ChangeFeed: tc.opts})
			from := h.latest(t)
			want := tc.act(t, h.sim, h.sim.Organizations()[0].ID)
			p := h.changes(t, from, "&limit=100")
			if !reflect.DeepEqual(p.Results, want) {
				t.Fatalf("events\n got %+v\nwant %+v", p.Results, want)
			}
			// the last update of each session carries the eTag the session now has
			last := map[string]upstream.ChangeEvent{}
			for _, ev := range want {
				last[ev.ID] = ev
			}
			for id, ev := range last {
				r := h.get("/v8/RestoreSessions/" + id)
				if ev.Type == upstream.ChangeRestoreSessionDelete {
					if r.status != http.StatusNotFound {
						t.Errorf("deleted session %s: GET answered %d, want 404", id, r.status)
					}
					if _, ok := h.sim.Session(id); ok {
						t.Errorf("deleted session %s still found", id)
					}
					for _, rs := range h.sim.Sessions() {
						if rs.ID == id {
							t.Errorf("deleted session %s still listed", id)
						}
					}
					continue
				}
				var rs upstream.RestoreSession
				mustJSON(t, r.body, &rs)
				if rs.ETag == nil || *rs.ETag != ev.ETag {
					t.Errorf("session %s eTag %v, the feed said %d", id, rs.ETag, ev.ETag)
				}
			}
			// reading on from the answer's token: nothing more
			if more := h.changes(t, p.NextChangeToken, ""); len(more.Results) != 0 {
				t.Errorf("events after the last token: %+v", more.Results)
			}
		})
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func addEvent(t *testing.T, s *Server, id string, ev upstream.RestoreSessionEvent) {
	t.Helper()
	_, err := s.AddEvent(id, ev)
	mustNil(t, err)
}

func orgIDByName(t *testing.T, s *Server, name string) string {
	t.Helper()
	for _, o := range s.Organizations() {
		if o.Name == name {
			return o.ID
		}
	}
	t.Fatalf("no organisation %q", name)
	return ""
}

// TestChangeFeedPagesByLimit: limit bounds each answer; the tokens chain through every change
// exactly once.
func TestChangeFeedPagesByLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 10, Orgs: 2})
	from := h.latest(t)
	var want []string
	for range 5 {
		want = append(want, h.sim.AddSession(upstream.RestoreSession{}).ID)
	}
	var got []string
	var sizes []int
	for range 10 {
		p := h.changes(t, from, "&limit=2")
		if p.Limit != 2 {
			t.Errorf("limit %d echoed, want 2", p.Limit)
		}
		sizes = append(sizes, len(p.Results))
		for _, ev := range p.Results {
			got = append(got, ev.ID)
		}
		from = p.NextChangeToken
		if len(p.Results) == 0 {
			break
		}
	}
	if !reflect.DeepEqual(sizes, []int{2, 2, 1, 0}) || !reflect.DeepEqual(got, want) {
		t.Fatalf("pages of %v holding %v, want [2 2 1 0] holding %v", sizes, got, want)
	}
}

// TestChangeFeedLongPollAnswersOnChange: a reader waiting on the feed (timeoutSeconds=60)
// is answered as soon as a session is added, not at the timeout.
func TestChangeFeedLongPollAnswersOnChange(t *testing.T) {
	t.Parallel()
	sim := New(Options{APIVersion: "v8", Sessions: 10, Orgs: 2, Now: testNow, Seed: 42})
	waiting := make(chan struct{}, 1)
	sim.feed.waitHook = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	h := harnessFor(t, sim)
	from := h.latest(t)
	type answer struct {
		p   upstream.ChangePage
		err string
	}
	got := make(chan answer, 1)
	h.login()
	go func() {
		r := h.do("GET", "/v8/Events?timeoutSeconds=60&from="+url.QueryEscape(from), nil, map[string]string{"Authorization": "Bearer " + h.tok})
		var a answer
		if r.status != http.StatusOK || json.Unmarshal(r.body, &a.p) != nil {
			a.err = string(r.body)
		}
		got <- a
	}()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the reader never waited")
	}
	start := time.Now()
	added := sim.AddSession(upstream.RestoreSession{})
	select {
	case a := <-got:
		if a.err != "" {
			t.Fatal(a.err)
		}
		if len(a.p.Results) != 1 || a.p.Results[0].ID != added.ID {
			t.Fatalf("answer %+v, want the update of %s", a.p.Results, added.ID)
		}
		t.Logf("answered %s after the change", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll did not answer on the change")
	}
}

// TestChangeFeedIdleTimeout: with nothing new the answer comes at timeoutSeconds (capped by
// MaxWait), empty, with a token that still reads from the same place.
func TestChangeFeedIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     ChangeFeedOptions
		timeout  string
		min, max time.Duration
	}{
		{"no wait asked", ChangeFeedOptions{}, "", 0, 5 * time.Second},
		{"zero", ChangeFeedOptions{}, "0", 0, 5 * time.Second},
		{"3 short seconds", ChangeFeedOptions{Second: 20 * time.Millisecond}, "3", 60 * time.Millisecond, 5 * time.Second},
		{"capped by MaxWait", ChangeFeedOptions{MaxWait: 50 * time.Millisecond}, "2147483647", 50 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: "v8", Sessions: 10, Orgs: 2, ChangeFeed: tc.opts})
			from := h.latest(t)
			q := ""
			if tc.timeout != "" {
				q = "&timeoutSeconds=" + tc.timeout
			}
			start := time.Now()
			p := h.changes(t, from, q)
			took := time.Since(start)
			if len(p.Results) != 0 || took < tc.min || took > tc.max {
				t.Fatalf("%d results after %s, want none after %s..%s", len(p.Results), took, tc.min, tc.max)
			}
			added := h.sim.AddSession(upstream.RestoreSession{})
			if p2 := h.changes(t, p.NextChangeToken, ""); len(p2.Results) != 1 || p2.Results[0].ID != added.ID {
				t.Fatalf("after the idle answer's token: %+v, want the update of %s", p2.Results, added.ID)
			}
		})
	}
}

// TestChangeFeedLongPollEndsWithTheClient: a reader that disconnects ends the wait at once
// (the handler returns), long before timeoutSeconds.
func TestChangeFeedLongPollEndsWithTheClient(t *testing.T) {
	t.Parallel()
	sim := New(Options{APIVersion: "v8", Sessions: 10, Orgs: 2, Now: testNow, Seed: 42})
	waiting := make(chan struct{}, 1)
	sim.feed.waitHook = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	handlerDone := make(chan struct{}, 4)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		if strings.HasSuffix(strings.ToLower(r.URL.Path), "/events") {
			handlerDone <- struct{}{}
		}
	}))
	t.Cleanup(ts.Close)
	h := &harness{t: t, sim: sim, ts: ts}
	h.login()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v8/Events?from=latest&timeoutSeconds=60", nil)
	req.Header.Set("Authorization", "Bearer "+h.tok)
	clientDone := make(chan error, 1)
	go func() {
		res, err := ts.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		clientDone <- err
	}()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the reader never waited")
	}
	cancel()
	select {
	case <-handlerDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll kept waiting after the client left")
	}
	if err := <-clientDone; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
}

// TestChangeFeedRefusesUnknownTokens: a token older than the history, garbled, sealed by
// another server or missing gets VBO's error body, errorCode OutdatedChangeToken (400; see
// docs/vbo-sim.md); bad parameters are ParameterValidationFailure.
func TestChangeFeedRefusesUnknownTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 10, Orgs: 2, ChangeFeed: ChangeFeedOptions{History: 3}})
	other := newHarness(t, Options{APIVersion: "v8", Sessions: 10, Orgs: 2})
	old := h.latest(t) // 4 changes behind, 3 kept: gone
	h.sim.AddSession(upstream.RestoreSession{})
	kept := h.latest(t) // 3 changes behind: still served
	for range 3 {
		h.sim.AddSession(upstream.RestoreSession{})
	}
	if p := h.changes(t, kept, ""); len(p.Results) != 3 {
		t.Fatalf("%d events after a token 3 changes behind, want 3", len(p.Results))
	}
	foreign := other.latest(t)
	good := h.latest(t)
	for _, tc := range []struct {
		name, query string
		code        string
	}{
		{"older than the history", "from=" + url.QueryEscape(old), "OutdatedChangeToken"},
		{"garbled", "from=abc", "OutdatedChangeToken"},
		{"a token edited", "from=" + url.QueryEscape(flipLast(good)), "OutdatedChangeToken"},
		{"another server's", "from=" + url.QueryEscape(foreign), "OutdatedChangeToken"},
		{"from missing", "", "ParameterValidationFailure"},
		{"from empty", "from=", "ParameterValidationFailure"},
		{"limit 0", "from=latest&limit=0", "ParameterValidationFailure"},
		{"limit too large", "from=latest&limit=10001", "ParameterValidationFailure"},
		{"timeout negative", "from=latest&timeoutSeconds=-1", "ParameterValidationFailure"},
		{"timeout not a number", "from=latest&timeoutSeconds=soon", "ParameterValidationFailure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get("/v8/Events?" + tc.query)
			var e upstream.ExceptionInfo
			mustJSON(t, r.body, &e)
			if r.status != http.StatusBadRequest || e.ErrorCode != tc.code || e.Message == "" {
				t.Fatalf("%d %s, want 400 with errorCode %s", r.status, r.body, tc.code)
			}
		})
	}
	// the newest token stays good
	if p := h.changes(t, good, ""); len(p.Results) != 0 {
		t.Fatalf("events after the newest token: %+v", p.Results)
	}
}

// flipLast changes the last character of a token.
func flipLast(tok string) string {
	b := []byte(tok)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

// TestChangeFeedV8Only: v6 and v7 servers have no /Events (404, as a real one answers an
// unknown route); their mutations record nothing.
func TestChangeFeedV8Only(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v7"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: ver, Sessions: 10, Orgs: 2})
			a := h.sim.AddSession(upstream.RestoreSession{})
			mustNil(t, h.sim.DeleteSession(a.ID))
			if r := h.get("/" + ver + "/Events?from=latest"); r.status != http.StatusNotFound {
				t.Fatalf("GET /%s/Events: %d %s, want 404", ver, r.status, r.body)
			}
			if h.sim.feed != nil {
				t.Fatal("a v6/v7 server keeps a change feed")
			}
		})
	}
}

// TestSimControlDeletesSession: DELETE /_sim/sessions/{id} prunes a session (204; 404 for an
// unknown one) and the feed reports it.
func TestSimControlDeletesSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 10, Orgs: 2})
	from := h.latest(t)
	id := h.sim.Sessions()[0].ID
	if r := h.do("DELETE", "/_sim/sessions/"+id, nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if r := h.do("DELETE", "/_sim/sessions/"+id, nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("DELETE again: %d %s, want 404", r.status, r.body)
	}
	if r := h.do("GET", "/_sim/sessions/"+id, nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d %s, want 405", r.status, r.body)
	}
	if p := h.changes(t, from, ""); !reflect.DeepEqual(p.Results, []upstream.ChangeEvent{deleted(id)}) {
		t.Fatalf("feed %+v, want the delete of %s", p.Results, id)
	}
}

// TestChangeFeedFollowsLiveSessions: sessions RunLive plays show on the feed as they start,
// receive items and stop, eTags rising by one.
func TestChangeFeedFollowsLiveSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 60, Orgs: 3, ChangeFeed: ChangeFeedOptions{Second: 10 * time.Millisecond}})
	from := h.latest(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.sim.RunLive(ctx, LiveOptions{MinGap: time.Millisecond, MaxGap: 2 * time.Millisecond,
			MinItemGap: time.Millisecond, MaxItemGap: 2 * time.Millisecond, MaxItems: 2})
	}()
	etags := map[string]int64{}
	deadline := time.Now().Add(10 * time.Second)
	stopped := ""
	for stopped == "" && time.Now().Before(deadline) {
		p := h.changes(t, from, "&timeoutSeconds=10")
		from = p.NextChangeToken
		for _, ev := range p.Results {
			if ev.Type != upstream.ChangeRestoreSessionUpdate || ev.ETag != etags[ev.ID]+1 || ev.OrganizationID == "" {
				t.Fatalf("event %+v after eTag %d", ev, etags[ev.ID])
			}
			etags[ev.ID] = ev.ETag
			if rs, ok := h.sim.Session(ev.ID); ok && rs.State == upstream.SessionStateStopped && *rs.ETag == ev.ETag {
				stopped = ev.ID
			}
		}
	}
	cancel()
	<-done
	if stopped == "" {
		t.Fatal("no live session seen stopping on the feed")
	}
}

// TestChangeFeedOpenAPIContract validates the feed's answers, errors included, against the
// trimmed v8 OpenAPI document (Events_Get: Events_GetResponse, RESTEvent, RESTExceptionInfo).
func TestChangeFeedOpenAPIContract(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t, "v8")
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 20, Orgs: 2, ChangeFeed: ChangeFeedOptions{History: 4, Second: 10 * time.Millisecond}})
	old := h.latest(t) // 5 changes behind at the end: out of the history
	h.sim.AddSession(upstream.RestoreSession{})
	from := h.latest(t) // 4 behind: kept
	a := h.sim.AddSession(upstream.RestoreSession{})
	addEvent(t, h.sim, a.ID, upstream.RestoreSessionEvent{})
	mustNil(t, h.sim.StopSession(a.ID, upstream.SessionResultFailed))
	mustNil(t, h.sim.DeleteSession(a.ID))
	tok := h.login().AccessToken
	auth := map[string]string{"Authorization": "Bearer " + tok}
	for _, c := range []struct {
		name, path string
		hdr        map[string]string
		status     int
	}{
		{"latest", "/v8/Events?from=latest", auth, 200},
		{"updates and a delete", "/v8/Events?limit=10&from=" + url.QueryEscape(from), auth, 200},
		{"idle long-poll", "/v8/Events?timeoutSeconds=1&from=latest", auth, 200},
		{"outdated token", "/v8/Events?from=" + url.QueryEscape(old), auth, 400},
		{"garbled token", "/v8/Events?from=%E2%98%83", auth, 400},
		{"no from", "/v8/Events", auth, 400},
		{"bad limit", "/v8/Events?from=latest&limit=-3", auth, 400},
		{"no auth", "/v8/Events?from=latest", nil, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("GET", c.path, nil, c.hdr)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			validateResponse(t, doc, "GET", "/v8/Events", c.path, r)
		})
	}
	// not vacuous: the document refuses what the feed must not send
	for _, body := range []string{
		`{"limit":30,"results":[]}`, // no nextChangeToken
		`{"nextChangeToken":"x","limit":30,"results":null}`,
		`{"nextChangeToken":"x","limit":30,"results":[{"id":"a","eTag":1}]}`,                                      // no eventType
		`{"nextChangeToken":"x","limit":30,"results":[{"eventType":"SessionChanged","id":"a"}]}`,                  // unknown type
		`{"nextChangeToken":"x","limit":30,"results":[{"eventType":"RestoreSessionUpdate","id":"a","eTag":"1"}]}`, // eTag not a number
		`{"nextChangeToken":"x","limit":30,"results":[{"eventType":"RestoreSessionUpdate","id":"a","eTag":1,"organizationId":"org"}]}`,
	} {
		r := resp{status: 200, header: http.Header{"Content-Type": {contentTypeJSON}}, body: []byte(body)}
		refused(t, doc, r)
	}
}

// refused fails t if the document accepts r as an answer of GET /v8/Events.
func refused(t *testing.T, doc *openapi3.T, r resp) {
	t.Helper()
	item := doc.Paths.Value("/v8/Events")
	req, _ := http.NewRequest("GET", "https://localhost:4443/v8/Events?from=latest", nil)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req,
			Route: &routers.Route{Spec: doc, Path: "/v8/Events", PathItem: item, Method: "GET", Operation: item.GetOperation("GET")}},
		Status: r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(r.body)),
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err == nil {
		t.Errorf("the document accepts %s", r.body)
	}
}

// TestChangeFeedHistoryOverrunWhileWaiting: a waiting reader whose position drops out of the
// history before it is served (more changes than History at once) gets OutdatedChangeToken,
// never a page that silently skips changes.
func TestChangeFeedHistoryOverrunWhileWaiting(t *testing.T) {
	t.Parallel()
	sim := New(Options{APIVersion: "v8", Sessions: 10, Orgs: 2, Now: testNow, Seed: 42, ChangeFeed: ChangeFeedOptions{History: 1}})
	waiting, proceed := make(chan struct{}), make(chan struct{})
	sim.feed.waitHook = func() {
		waiting <- struct{}{}
		<-proceed
	}
	h := harnessFor(t, sim)
	h.login()
	got := make(chan resp, 1)
	go func() {
		got <- h.do("GET", "/v8/Events?from=latest&timeoutSeconds=60", nil, map[string]string{"Authorization": "Bearer " + h.tok})
	}()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the reader never waited")
	}
	sim.AddSession(upstream.RestoreSession{})
	sim.AddSession(upstream.RestoreSession{}) // the first change is gone from a history of 1
	close(proceed)
	select {
	case r := <-got:
		var e upstream.ExceptionInfo
		mustJSON(t, r.body, &e)
		if r.status != http.StatusBadRequest || e.ErrorCode != "OutdatedChangeToken" {
			t.Fatalf("%d %s, want 400 OutdatedChangeToken", r.status, r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
}
