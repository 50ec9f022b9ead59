package report

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

var quiet = slog.New(slog.DiscardHandler)

// allServers builds report queries over fixed servers, everything in scope: the scope checks
// are resolvers' and tested there.
type allServers []string

func (s allServers) NewAuditQuery(_ context.Context, from, to time.Time, f *model.RestoreSessionFilter, g []model.RestoreAuditDimension) (resolvers.AuditQuery, error) {
	if err := Window(from, to, 0); err != nil {
		return resolvers.AuditQuery{}, &model.InputError{Msg: err.Error()}
	}
	return resolvers.AuditQuery{From: from, To: to, Filter: f, GroupBy: g, Servers: s,
		InScope: func(string, string) bool { return true }}, nil
}

// exportServer serves the exports over real TCP on loopback, every accepted connection with a
// small send buffer (so an unread download blocks the handler after a few kilobytes, as it
// does after a few megabytes in production), the principal named by the X-Principal header.
func exportServer(t *testing.T, a *Archive, o ExportOptions) *httptest.Server {
	t.Helper()
	srv, _ := exportServerWriting(t, a, o)
	return srv
}

// exportServerWriting is exportServer, also counting the server's socket writes in progress:
// one that stays in progress is an export blocked on a client that does not read.
func exportServerWriting(t *testing.T, a *Archive, o ExportOptions) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	writing := &atomic.Int64{}
	mux := http.NewServeMux()
	for path, h := range a.Exports(allServers{"syd1"}, o) {
		mux.Handle("GET "+path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := auth.NewTenantAuditor(r.Header.Get("X-Principal"), r.Header.Get("X-Principal"), nil)
			h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		}))
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = smallBuffers{Listener: srv.Listener, writing: writing}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, writing
}

type smallBuffers struct {
	net.Listener
	writing *atomic.Int64
}

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	if err != nil {
		return c, err
	}
	return countedConn{Conn: c, writing: l.writing}, nil
}

// countedConn counts its writes in progress.
type countedConn struct {
	net.Conn
	writing *atomic.Int64
}

func (c countedConn) Write(p []byte) (int, error) {
	c.writing.Add(1)
	defer c.writing.Add(-1)
	return c.Conn.Write(p)
}

// stalledExport sends an export request from principal and then reads nothing but, in the
// background, its status line: the client of the H3. The status (or the error reading
// it, after a few seconds) arrives on the channel; the connection closes with the test.
func stalledExport(t *testing.T, srv *httptest.Server, principal, query string) <-chan string {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET %s?%s HTTP/1.1\r\nHost: gateway\r\nX-Principal: %s\r\n\r\n", ExportSessionsPath, query, principal)
	status := make(chan string, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		line, err := bufio.NewReaderSize(c, 16).ReadString('\n')
		if err != nil {
			line = err.Error()
		}
		status <- strings.TrimSpace(line)
	}()
	return status
}

// fillLong archives n finished sessions on syd1, one a minute from archiveBase, each with a
// few hundred bytes of text, backfilled and polled (the archive covers them).
func fillLong(t *testing.T, st *store.Store, n int) time.Time {
	t.Helper()
	ctx := context.Background()
	if _, err := st.EnsureServer(ctx, "syd1", archiveBase); err != nil {
		t.Fatal(err)
	}
	l, ok, err := st.AcquireLease(ctx, "syd1", "test", time.Hour)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	changes := make([]store.Change, n)
	for i := range changes {
		start := archiveBase.Add(time.Duration(i) * time.Minute)
		end := start.Add(time.Minute)
		s := upstream.RestoreSession{ID: fmt.Sprintf("s-%05d", i), Organization: "Org 0", Type: upstream.SessionTypeExchange,
			State: upstream.SessionStateStopped, Result: upstream.SessionResultSuccess, CreationTime: start, EndTime: &end,
			InitiatedBy: "CONTOSO\\alice", ClientHost: "PC1 (via: 198.51.100.7)", Reason: strings.Repeat("reason ", 40)}
		changes[i] = store.Change{Session: store.Session{Server: "syd1", Session: s, OrgID: "Org-0", EventsComplete: true}}
	}
	to := archiveBase.Add(time.Duration(n) * time.Minute)
	if err := st.Archive(ctx, l, changes, store.Checkpoint{HighWater: to, BackfillDone: true}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPolled(ctx, l, to, ""); err != nil {
		t.Fatal(err)
	}
	return to
}

// H3: downloads nobody reads hold no store connection. More stalled exports than the store has
// readers (4) and report readers (2), from several principals, and meanwhile another tenant's
// restoreAudit, the watcher's reads and writes and the feed all answer within a bound. Before,
// each stalled export held a reader for as long as its client did not read.
func TestStalledExportsLeaveTheStoreWorking(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, storetest.SQLite(t))
	to := fillLong(t, st, 1000) // about 500 kB of CSV per export
	a, err := NewArchive(st, ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const writeTimeout = time.Minute
	srv, writing := exportServerWriting(t, a, ExportOptions{WriteTimeout: writeTimeout, PerPrincipal: 2, Logger: quiet})
	query := url.Values{"from": {archiveBase.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	const stalled = 6
	statuses := make([]<-chan string, stalled)
	for i := range statuses {
		statuses[i] = stalledExport(t, srv, fmt.Sprintf("tenant-%d", i/2), query)
	}
	for i, st := range statuses {
		if status := <-st; !strings.Contains(status, " 200 ") {
			t.Fatalf("stalled export %d did not start: %s", i, status)
		}
	}
	// Every export is stuck in a socket write: its client reads nothing (and will not until
	// the write timeout, a minute). A condition, not a sleep.
	for deadline := time.Now().Add(20 * time.Second); writing.Load() < stalled; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d exports blocked in a write after 20 s", writing.Load(), stalled)
		}
	}

	// The others' work must finish while the exports stay stalled: its deadline is generous
	// but well inside the exports' write timeout, so work that waited for a connection a
	// stalled export holds (released only when its write times out) fails here, whatever the
	// machine's speed.
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout/3)
	defer cancel()
	start := time.Now()
	res, err := a.RestoreAudit(ctx, resolvers.AuditQuery{From: archiveBase, To: to, Servers: []string{"syd1"},
		InScope: func(string, string) bool { return true }})
	if err != nil {
		t.Fatalf("another tenant's restoreAudit with %d stalled exports: %v", stalled, err)
	}
	if len(res.Rows) != 1 || res.Rows[0].Sessions != 1000 {
		t.Fatalf("restoreAudit rows %+v", res.Rows)
	}
	// What the watcher does each poll: read its state, archive, read the feed.
	if _, err := st.States(ctx); err != nil {
		t.Fatalf("watcher state: %v", err)
	}
	l, ok, err := st.AcquireLease(ctx, "syd1", "test", time.Hour)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	s := upstream.RestoreSession{ID: "new", Organization: "Org 0", CreationTime: to, State: upstream.SessionStateWorking}
	if err := st.Archive(ctx, l, []store.Change{{Session: store.Session{Server: "syd1", Session: s, OrgID: "Org-0"}}}, store.Checkpoint{}, nil); err != nil {
		t.Fatalf("watcher archive: %v", err)
	}
	if _, err := st.FeedAfter(ctx, "syd1", 0, 10); err != nil {
		t.Fatalf("feed: %v", err)
	}
	t.Logf("restoreAudit, watcher state, archive write and feed read took %v with %d stalled exports", time.Since(start), stalled)
	// Still stalled: each export is back in a blocked write. Between two of its writes (the
	// client's kernel may take a few more bytes as its receive window grows) an export is
	// briefly out of one, so the count is awaited, not sampled: an export that had finished
	// would never write again.
	for deadline := time.Now().Add(5 * time.Second); writing.Load() < stalled; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d exports still blocked once the others' work was done: it did not run beside them", writing.Load(), stalled)
		}
	}
}

// H3: a principal runs at most PerPrincipal exports; one more is refused at once (429 with
// Retry-After, connection closed), and a client that stops reading loses its download after
// WriteTimeout, which frees its slot.
func TestExportLimitAndWriteDeadline(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, storetest.SQLite(t))
	to := fillLong(t, st, 1000)
	a, err := NewArchive(st, ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := exportServer(t, a, ExportOptions{WriteTimeout: 300 * time.Millisecond, PerPrincipal: 2, RetryAfter: 7 * time.Second, Logger: quiet})
	query := url.Values{"from": {archiveBase.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	for range 2 {
		if status := <-stalledExport(t, srv, "tenant-a", query); !strings.Contains(status, " 200 ") {
			t.Fatalf("export: %s", status)
		}
	}
	get := func(principal string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+ExportSessionsPath+"?"+query, nil)
		req.Header.Set("X-Principal", principal)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get("tenant-a")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" || !resp.Close ||
		errorOf(t, body).Extensions["code"] != resolvers.CodeRateLimited {
		t.Fatalf("third export of one principal: %d Retry-After %q close %v %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close, body)
	}
	// Another principal is not refused.
	resp = get("tenant-b")
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || n < 256<<10 {
		t.Fatalf("another principal's export: %d, %d bytes", resp.StatusCode, n)
	}
	// The stalled downloads end at their write deadline and give their slots back.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp = get("tenant-a")
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && n > 256<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stalled exports still hold their slots: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exportError is one error of an export's JSON answer.
type exportError struct {
	Message    string
	Extensions map[string]any
}

// errorOf reads the one error of an export's JSON answer.
func errorOf(t *testing.T, body []byte) exportError {
	t.Helper()
	var e struct{ Errors []exportError }
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 {
		t.Fatalf("error answer %s: %v", body, err)
	}
	return e.Errors[0]
}

// exportGet runs one export in process.
func exportGet(h map[string]http.Handler, path string, v url.Values) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, path+"?"+v.Encode(), nil)
	h[path].ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), auth.NewAdmin("admin"))))
	return w
}

// L8: a single-valued parameter given twice is refused, naming it; lists may repeat.
func TestExportRefusesRepeatedParameters(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, storetest.SQLite(t))
	to := fillLong(t, st, 10)
	a, err := NewArchive(st, ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Exports(allServers{"syd1"}, ExportOptions{})
	from, end := archiveBase.Format(time.RFC3339), to.Format(time.RFC3339)
	tests := []struct {
		name   string
		path   string
		v      url.Values
		status int
		names  string // in the message
	}{
		{"once", ExportSessionsPath, url.Values{"from": {from}, "to": {end}}, 200, ""},
		{"from twice", ExportSessionsPath, url.Values{"from": {from, archiveBase.Add(-time.Hour).Format(time.RFC3339)}, "to": {end}}, 400, `"from"`},
		{"to twice", ExportPath, url.Values{"from": {from}, "to": {end, end}}, 400, `"to"`},
		{"initiatedBy twice", ExportSessionsPath, url.Values{"from": {from}, "to": {end}, "initiatedBy": {"a", "b"}}, 400, `"initiatedBy"`},
		{"partial twice", ExportSessionsPath, url.Values{"from": {from}, "to": {end}, "partial": {"true", "false"}}, 400, `"partial"`},
		{"startTimeTo twice", ExportSessionsPath, url.Values{"from": {from}, "to": {end}, "startTimeTo": {end, end}}, 400, `"startTimeTo"`},
		{"a list repeated", ExportSessionsPath, url.Values{"from": {from}, "to": {end}, "types": {"EXCHANGE", "ONEDRIVE"}}, 200, ""},
		{"groupBy repeated", ExportPath, url.Values{"from": {from}, "to": {end}, "groupBy": {"DAY", "TYPE"}}, 200, ""},
		{"partial neither true nor false", ExportSessionsPath, url.Values{"from": {from}, "to": {end}, "partial": {"yes"}}, 400, "partial"},
	}
	for _, tt := range tests {
		w := exportGet(h, tt.path, tt.v)
		if w.Code != tt.status || tt.status != http.StatusOK && !strings.Contains(errorOf(t, w.Body.Bytes()).Message, tt.names) {
			t.Errorf("%s: %d %s; want %d naming %s", tt.name, w.Code, w.Body.String(), tt.status, tt.names)
		}
	}
}

// The exports' cells are sanitised end to end: a session whose fields carry bidi overrides,
// ANSI escapes and formulas after separators comes out as inert text.
func TestExportSanitisesCells(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, storetest.SQLite(t))
	ctx := context.Background()
	to := fillLong(t, st, 1)
	l, _, err := st.AcquireLease(ctx, "syd1", "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := upstream.RestoreSession{ID: "evil", Organization: "Org 0", CreationTime: archiveBase.Add(time.Second), State: upstream.SessionStateWorking,
		InitiatedBy: "PC1;@SUM(1)", ClientHost: "\x1b[31mPC2\x1b[0m", Reason: "invoice\u202Efdp.exe", Name: "a\tb|=HYPERLINK(1)"}
	if err := st.Archive(ctx, l, []store.Change{{Session: store.Session{Server: "syd1", Session: s, OrgID: "Org-0"}}}, store.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	a, err := NewArchive(st, ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := exportGet(a.Exports(allServers{"syd1"}, ExportOptions{}), ExportSessionsPath,
		url.Values{"from": {archiveBase.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}})
	recs, err := csv.NewReader(w.Body).ReadAll()
	if w.Code != http.StatusOK || err != nil || len(recs) != 3 {
		t.Fatalf("export: %d %v %d records", w.Code, err, len(recs))
	}
	got := map[string]string{}
	for i, h := range DetailHeader {
		got[h] = recs[2][i]
	}
	want := map[string]string{"initiatedBy": "PC1;'@SUM(1)", "clientHost": "PC2", "reason": "invoicefdp.exe", "name": "a b|'=HYPERLINK(1)"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, rec := range recs {
		for _, cell := range rec {
			checkCell(t, cell, cell)
		}
	}
}

// Issue 23: an export whose window the archive does not cover answers 409 naming the servers
// and what they cover, unless partial=true, which names the file partial; every CSV carries a
// Coverage header, and its verdicts are restoreAudit's for the same window.
func TestExportCoverage(t *testing.T) {
	t.Parallel()
	now := archiveBase.Add(30 * 24 * time.Hour)
	backfillFrom := now.Add(-10 * 24 * time.Hour)
	st := storetest.Open(t, storetest.SQLite(t))
	archiveEvery(t, st, "syd1", backfillFrom, now, 6*time.Hour)                            // backfilled and polled
	if _, err := st.EnsureServer(context.Background(), "mel1", backfillFrom); err != nil { // backfill running
		t.Fatal(err)
	}
	a, err := NewArchive(st, ArchiveOptions{Now: func(context.Context) (time.Time, error) { return now, nil }})
	if err != nil {
		t.Fatal(err)
	}
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	covered := url.Values{"from": {rfc(backfillFrom)}, "to": {rfc(now)}}
	early := url.Values{"from": {rfc(backfillFrom.Add(-24 * time.Hour))}, "to": {rfc(now)}}
	with := func(v url.Values, k, val string) url.Values {
		out := url.Values{}
		for key, vals := range v {
			out[key] = vals
		}
		out.Set(k, val)
		return out
	}
	tests := []struct {
		name     string
		servers  allServers
		v        url.Values
		status   int
		partial  bool     // the file name says partial
		mentions []string // in the 409's message
	}{
		{"covered", allServers{"syd1"}, covered, http.StatusOK, false, nil},
		{"covered, partial asked", allServers{"syd1"}, with(covered, "partial", "true"), http.StatusOK, false, nil},
		{"before the backfill", allServers{"syd1"}, early, http.StatusConflict, false,
			[]string{"syd1 covers " + rfc(backfillFrom) + " to " + rfc(now), "partial=true"}},
		{"a server still backfilling", allServers{"syd1", "mel1"}, covered, http.StatusConflict, false,
			[]string{"mel1 covers from " + rfc(backfillFrom) + ", not polled yet"}},
		{"a server never watched", allServers{"syd1", "akl1"}, covered, http.StatusConflict, false,
			[]string{"akl1 has not been watched yet"}},
		{"partial", allServers{"syd1", "mel1"}, with(covered, "partial", "true"), http.StatusOK, true, nil},
		{"partial=false", allServers{"syd1", "mel1"}, with(covered, "partial", "false"), http.StatusConflict, false, []string{"mel1"}},
	}
	for _, tt := range tests {
		for _, path := range []string{ExportPath, ExportSessionsPath} {
			w := exportGet(a.Exports(tt.servers, ExportOptions{Logger: quiet}), path, tt.v)
			name := tt.name + " " + path
			if w.Code != tt.status {
				t.Errorf("%s: %d %s, want %d", name, w.Code, w.Body.String(), tt.status)
				continue
			}
			// The report for the same window says the same.
			from, _ := time.Parse(time.RFC3339, tt.v.Get("from"))
			to, _ := time.Parse(time.RFC3339, tt.v.Get("to"))
			q, _ := tt.servers.NewAuditQuery(context.Background(), from, to, nil, nil)
			res, err := a.RestoreAudit(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := w.Header().Get("Coverage"), coverageHeader(res.Coverage); got != want || got == "" {
				t.Errorf("%s: Coverage %q, restoreAudit's %q", name, got, want)
			}
			complete := true
			for _, c := range res.Coverage {
				complete = complete && c.Complete
				if !strings.Contains(w.Header().Get("Coverage"), sfString(c.Server.Name)+";complete="+map[bool]string{true: "?1", false: "?0"}[c.Complete]) {
					t.Errorf("%s: Coverage %q does not say %s complete=%v", name, w.Header().Get("Coverage"), c.Server.Name, c.Complete)
				}
			}
			if complete != (tt.status == http.StatusOK && !tt.partial) {
				t.Errorf("%s: restoreAudit complete %v, export %d partial %v", name, complete, w.Code, tt.partial)
			}
			if tt.status == http.StatusConflict {
				e := errorOf(t, w.Body.Bytes())
				if e.Extensions["code"] != CodeArchiveIncomplete {
					t.Errorf("%s: code %v", name, e.Extensions["code"])
				}
				for _, m := range tt.mentions {
					if !strings.Contains(e.Message, m) {
						t.Errorf("%s: message %q does not say %q", name, e.Message, m)
					}
				}
				continue
			}
			cd := w.Header().Get("Content-Disposition")
			if strings.HasSuffix(cd, `-partial.csv"`) != tt.partial || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
				t.Errorf("%s: Content-Disposition %q, want partial %v", name, cd, tt.partial)
			}
		}
	}
}

// Sessions reads in pages keyed by (start, server, id): with pages far smaller than the
// window, and sessions sharing a start time across servers and within one, every session comes
// once, in order, whatever bounds the page (rows or bytes). On each engine.
func TestSessionsPagesSkipNothing(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			var want []string
			for _, server := range []string{"mel1", "syd1"} {
				if _, err := st.EnsureServer(ctx, server, archiveBase); err != nil {
					t.Fatal(err)
				}
				l, _, err := st.AcquireLease(ctx, server, "test", time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				var changes []store.Change
				for i := range 40 {
					start := archiveBase.Add(time.Duration(i/4) * time.Second) // four sessions per start time
					s := upstream.RestoreSession{ID: fmt.Sprintf("id-%02d", 39-i), Organization: "Org 0", CreationTime: start,
						State: upstream.SessionStateWorking, Reason: strings.Repeat("x", i*10)}
					changes = append(changes, store.Change{Session: store.Session{Server: server, Session: s, OrgID: "Org-0"}})
				}
				if err := st.Archive(ctx, l, changes, store.Checkpoint{}, nil); err != nil {
					t.Fatal(err)
				}
			}
			for sec := range 10 {
				for _, server := range []string{"mel1", "syd1"} {
					for i := 3; i >= 0; i-- {
						want = append(want, fmt.Sprintf("%s/id-%02d", server, 39-(sec*4+i)))
					}
				}
			}
			for _, page := range []struct{ rows, bytes int }{{1, 1 << 20}, {3, 1 << 20}, {7, 1 << 20}, {500, 1}, {500, 600}, {500, 1 << 20}} {
				a, err := NewArchive(st, ArchiveOptions{})
				if err != nil {
					t.Fatal(err)
				}
				a.pageRows, a.pageBytes = page.rows, page.bytes
				var got []string
				q := resolvers.AuditQuery{From: archiveBase, To: archiveBase.Add(time.Hour), Servers: []string{"syd1", "mel1"},
					InScope: func(string, string) bool { return true }}
				if err := a.Sessions(ctx, q, func(s *match.Session) error { got = append(got, s.Server+"/"+s.Upstream.ID); return nil }); err != nil {
					t.Fatal(err)
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("pages of %d rows / %d bytes:\n got %v\nwant %v", page.rows, page.bytes, got, want)
				}
			}
		})
	}
}

// TestCSVFileName pins the one CSV name the export download and the scheduled mail share:
// both ends in UTC whatever the zone given, and -partial only for an incomplete period.
func TestCSVFileName(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("X", 2*3600)
	from := time.Date(2026, 3, 1, 2, 0, 0, 0, loc)
	to := time.Date(2026, 3, 2, 2, 30, 5, 0, loc)
	for _, tt := range []struct {
		kind    string
		partial bool
		want    string
	}{
		{"restore-audit", false, "restore-audit-20260301T000000Z-20260302T003005Z.csv"},
		{"restore-audit-sessions", true, "restore-audit-sessions-20260301T000000Z-20260302T003005Z-partial.csv"},
	} {
		if got := CSVFileName(tt.kind, from, to, tt.partial); got != tt.want {
			t.Errorf("CSVFileName(%q, partial %v) = %q, want %q", tt.kind, tt.partial, got, tt.want)
		}
	}
}
