package download_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/download"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// pattern is a deterministic generated body of n bytes (never held whole).
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 7 % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func sumOf(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, &pattern{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

// recorder keeps every Finished.
type recorder struct {
	mu  sync.Mutex
	got []download.Finished
	ch  chan download.Finished
}

func newRecorder() *recorder { return &recorder{ch: make(chan download.Finished, 16)} }

func (r *recorder) DownloadFinished(_ context.Context, f download.Finished) error {
	r.mu.Lock()
	r.got = append(r.got, f)
	r.mu.Unlock()
	r.ch <- f
	return nil
}

func (r *recorder) wait(t testing.TB) download.Finished {
	t.Helper()
	select {
	case f := <-r.ch:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("the download's record was never completed")
		return download.Finished{}
	}
}

// opener serves a generated body of size bytes (declared when declare is set) and counts calls.
type opener struct {
	size    int64
	declare bool
	calls   atomic.Int32
}

func (o *opener) Open(_ context.Context, c download.Claim) (download.Body, error) {
	o.calls.Add(1)
	var src struct{ Items []string }
	if err := json.Unmarshal(c.Source, &src); err != nil || len(src.Items) == 0 {
		return download.Body{}, errors.New("bad source")
	}
	l := int64(-1)
	if o.declare {
		l = o.size
	}
	return download.Body{ReadCloser: io.NopCloser(&pattern{n: o.size}), ContentType: "application/zip", FileName: "items.zip", Length: l}, nil
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now(context.Context) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t, nil
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc  *download.Service
	rec  *recorder
	op   *opener
	clk  *clock
	srv  *httptest.Server
	st   *store.Store
	opts download.Options
}

// asPerson stands in for the edge's authentication: "X-Test-Person: tenant|subject[|auditor]".
func asPerson(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Test-Person"); v != "" {
			tenant, sub, _ := strings.Cut(v, "|")
			sub, role, _ := strings.Cut(sub, "|")
			var p *auth.Principal
			switch {
			case tenant == "":
				p = auth.NewAdmin(sub)
			case role == "auditor":
				p = auth.NewTenantAuditor(sub, tenant, nil)
			default:
				p = auth.NewTenantAdmin(sub, tenant, nil)
			}
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

func newFixture(t testing.TB, o store.Options, size int64, maxBytes int64, declare bool) *fixture {
	t.Helper()
	f := &fixture{rec: newRecorder(), op: &opener{size: size, declare: declare},
		clk: &clock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}, st: storetest.Open(t, o)}
	f.opts = download.Options{Store: f.st, Opener: f.op, Recorder: f.rec, MaxBytes: maxBytes,
		Expiry: 5 * time.Minute, Now: f.clk.now, Logger: slog.New(slog.DiscardHandler)}
	svc, err := download.New(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	mux := http.NewServeMux()
	mux.Handle("GET "+download.PathPrefix, asPerson(svc))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

var alice = download.Binding{Tenant: "t1", Person: "alice"}

func (f *fixture) issue(t testing.TB, b download.Binding) download.Ticket {
	t.Helper()
	tk, err := f.svc.Issue(context.Background(), download.Request{Binding: b, ActionID: "act-" + b.Person,
		Source: json.RawMessage(`{"Items":["m1"]}`), FileName: "x.zip"})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func (f *fixture) get(t testing.TB, path, person string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if person != "" {
		req.Header.Set("X-Test-Person", person)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestDownloadOnce(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			const size = 3<<20 + 17
			f := newFixture(t, eng.Options(t), size, 10<<20, false)
			tk := f.issue(t, alice)
			if !strings.HasPrefix(tk.Path, "/download/") || len(tk.Token) != 43 {
				t.Fatalf("ticket %+v: want /download/<43 base64url characters>", tk)
			}
			resp, body, err := f.get(t, tk.Path, "t1|alice")
			if err != nil {
				t.Fatal(err)
			}
			want := sumOf(size)
			got := sha256.Sum256(body)
			if resp.StatusCode != 200 || int64(len(body)) != size || hex.EncodeToString(got[:]) != want {
				t.Fatalf("first GET: %d, %d bytes, sha %x; want 200, %d bytes, %s", resp.StatusCode, len(body), got, size, want)
			}
			if resp.Trailer.Get("X-Download-Sha256") != want || resp.Trailer.Get("X-Download-Bytes") != "3145745" {
				t.Errorf("trailers %v", resp.Trailer)
			}
			if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/zip" || cd != `attachment; filename=items.zip` {
				t.Errorf("headers: %q %q", ct, cd)
			}
			fin := f.rec.wait(t)
			if fin.Status != download.StatusSucceeded || fin.Bytes != size || fin.SHA256 != want || fin.ActionID != "act-alice" || fin.Binding != alice {
				t.Errorf("record %+v", fin)
			}
			resp, body, _ = f.get(t, tk.Path, "t1|alice")
			if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), "already used") {
				t.Errorf("second GET: %d %q; want 410 already used", resp.StatusCode, body)
			}
			if n := f.op.calls.Load(); n != 1 {
				t.Errorf("VBO asked %d times, want once", n)
			}
			rec, err := f.svc.Lookup(context.Background(), "act-alice")
			if err != nil || rec.Status != "SUCCEEDED" || rec.Bytes != size || rec.SHA256 != want || !rec.Claimed {
				t.Errorf("stored %+v, %v", rec, err)
			}
		})
	}
}

func TestDownloadWrongPersonIsNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 1000, 1<<20, true)
	tk := f.issue(t, alice)
	_, unknownBody, _ := f.get(t, "/download/"+strings.Repeat("A", 43), "t1|alice")
	for _, tc := range []struct{ name, person, path string }{
		{"another person of the tenant", "t1|bob", tk.Path},
		{"the same subject in another tenant", "t2|alice", tk.Path},
		{"a provider admin", "|alice", tk.Path},
		{"anonymous", "", tk.Path},
		{"malformed token", "t1|alice", "/download/short"},
		{"token with a path", "t1|alice", tk.Path + "/x"},
	} {
		resp, body, err := f.get(t, tc.path, tc.person)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusNotFound || string(body) != string(unknownBody) {
			t.Errorf("%s: %d %q; want 404 exactly like an unknown link (%q)", tc.name, resp.StatusCode, body, unknownBody)
		}
	}
	if n := f.op.calls.Load(); n != 0 {
		t.Fatalf("VBO asked %d times for refused callers", n)
	}
	// Their attempts did not use the link up.
	resp, body, _ := f.get(t, tk.Path, "t1|alice")
	if resp.StatusCode != 200 || len(body) != 1000 {
		t.Fatalf("the owner after the refusals: %d, %d bytes", resp.StatusCode, len(body))
	}
}

func TestDownloadExpired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 1000, 1<<20, true)
	tk := f.issue(t, alice)
	if want := f.clk.t.Add(5 * time.Minute); !tk.ExpiresAt.Equal(want) {
		t.Errorf("expires %s, want %s", tk.ExpiresAt, want)
	}
	f.clk.add(5*time.Minute + time.Second)
	resp, body, _ := f.get(t, tk.Path, "t1|alice")
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), "expired") {
		t.Errorf("owner after expiry: %d %q; want 410 expired", resp.StatusCode, body)
	}
	resp, _, _ = f.get(t, tk.Path, "t1|bob")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("another person after expiry: %d, want 404", resp.StatusCode)
	}
	n, err := f.svc.Sweep(context.Background(), 100)
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v; want 1", n, err)
	}
	if fin := f.rec.wait(t); fin.Status != download.StatusExpired || fin.ActionID != "act-alice" {
		t.Errorf("swept record %+v", fin)
	}
	if n, _ := f.svc.Sweep(context.Background(), 100); n != 0 {
		t.Errorf("second sweep marked %d again", n)
	}
	if f.op.calls.Load() != 0 {
		t.Error("VBO asked for an expired link")
	}
}

func TestDownloadCapDeclared(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 2<<20, 1<<20, true)
	tk := f.issue(t, alice)
	resp, body, _ := f.get(t, tk.Path, "t1|alice")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "restore.maxDownloadBytes") {
		t.Errorf("%d %q; want 413 naming restore.maxDownloadBytes", resp.StatusCode, body)
	}
	if fin := f.rec.wait(t); fin.Status != download.StatusFailed || fin.Bytes != 0 || !strings.Contains(fin.Reason, "restore.maxDownloadBytes") {
		t.Errorf("record %+v", fin)
	}
}

func TestDownloadCapExceededMidStream(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	for _, size := range []int64{limit, limit + 1, 3 * limit} {
		f := newFixture(t, storetest.SQLite(t), size, limit, false)
		tk := f.issue(t, alice)
		resp, body, err := f.get(t, tk.Path, "t1|alice")
		fin := f.rec.wait(t)
		if size == limit {
			if err != nil || resp.StatusCode != 200 || len(body) != limit || fin.Status != download.StatusSucceeded {
				t.Errorf("exactly the cap: %v, %d bytes, %+v; want a whole download", err, len(body), fin)
			}
			continue
		}
		if err == nil {
			t.Errorf("size %d over the cap: the client read %d bytes without an error; want the connection aborted", size, len(body))
		}
		if len(body) > limit {
			t.Errorf("size %d: the client got %d bytes, more than the cap", size, len(body))
		}
		if fin.Status != download.StatusFailed || fin.Bytes != limit || !strings.Contains(fin.Reason, "restore.maxDownloadBytes") {
			t.Errorf("size %d: record %+v; want FAILED at %d bytes naming the cap", size, fin, limit)
		}
	}
}

func TestDownloadClientDisconnect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 1<<30, 2<<30, false)
	tk := f.issue(t, alice)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+tk.Path, nil)
	req.Header.Set("X-Test-Person", "t1|alice")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // mid-stream
	fin := f.rec.wait(t)
	if fin.Status != download.StatusFailed || !strings.Contains(fin.Reason, "client went away") || fin.Bytes < 1<<20 || fin.Bytes >= 1<<30 {
		t.Fatalf("record %+v; want FAILED, client went away, bytes sent so far", fin)
	}
	if len(fin.SHA256) != 64 {
		t.Errorf("digest of the part sent: %q", fin.SHA256)
	}
}

func TestDownloadUpstreamFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 100, 1<<20, false)
	f.svc, _ = download.New(download.Options{Store: f.st, Recorder: f.rec, MaxBytes: 1 << 20, Now: f.clk.now,
		Opener: download.OpenerFunc(func(context.Context, download.Claim) (download.Body, error) {
			return download.Body{}, errors.New("vbo: 500 secret detail")
		})})
	mux := http.NewServeMux()
	mux.Handle("GET /download/", asPerson(f.svc))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f.srv = srv
	tk := f.issue(t, alice)
	resp, body, _ := f.get(t, tk.Path, "t1|alice")
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(string(body), "secret") {
		t.Errorf("%d %q; want 502 without VBO's text", resp.StatusCode, body)
	}
	if fin := f.rec.wait(t); fin.Status != download.StatusFailed || strings.Contains(fin.Reason, "secret") {
		t.Errorf("record %+v", fin)
	}
}

// TestDownloadClaimRace: many claims of one link at once, through two services on two store
// handles (two replicas): exactly one wins, on each engine.
func TestDownloadClaimRace(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			o := eng.Options(t)
			f := newFixture(t, o, 10, 1<<20, true)
			other, err := download.New(download.Options{Store: storetest.Open(t, o), Opener: f.op, Recorder: f.rec,
				MaxBytes: 1 << 20, Now: f.clk.now})
			if err != nil {
				t.Fatal(err)
			}
			for round := range 5 {
				tk := f.issue(t, alice)
				var wins, used atomic.Int32
				var wg sync.WaitGroup
				for i := range 8 {
					svc := f.svc
					if i%2 == 1 {
						svc = other
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := svc.Claim(context.Background(), tk.Token, alice)
						switch {
						case err == nil:
							wins.Add(1)
						case errors.Is(err, download.ErrUsed):
							used.Add(1)
						default:
							t.Errorf("claim: %v", err)
						}
					}()
				}
				wg.Wait()
				if wins.Load() != 1 || used.Load() != 7 {
					t.Fatalf("round %d: %d claims won, %d told used; want 1 and 7", round, wins.Load(), used.Load())
				}
			}
		})
	}
}

func TestIssueRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 10, 100, true)
	for _, tc := range []struct {
		name string
		r    download.Request
	}{
		{"no person", download.Request{ActionID: "a", Source: json.RawMessage(`{}`)}},
		{"no action", download.Request{Binding: alice, Source: json.RawMessage(`{}`)}},
		{"source not JSON", download.Request{Binding: alice, ActionID: "a", Source: json.RawMessage(`{`)}},
		{"expiry over an hour", download.Request{Binding: alice, ActionID: "a", Source: json.RawMessage(`{}`), Expiry: 2 * time.Hour}},
	} {
		if _, err := f.svc.Issue(context.Background(), tc.r); err == nil {
			t.Errorf("%s: issued", tc.name)
		}
	}
	if _, err := download.New(download.Options{Store: f.st, Opener: f.op, Recorder: f.rec}); err == nil {
		t.Error("New without a cap: built")
	}
	if _, err := download.New(download.Options{Store: f.st, Opener: f.op, MaxBytes: 1}); err == nil {
		t.Error("New without a recorder: built")
	}
}

func TestTokensDiffer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 10, 100, true)
	seen := map[string]bool{}
	for range 50 {
		tk := f.issue(t, alice)
		if seen[tk.Token] {
			t.Fatal("a token repeated")
		}
		seen[tk.Token] = true
	}
}

func TestSanitizeFileName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"report.msg", "report.msg"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\x\evil.exe`, "evil.exe"},
		{"a\"b;c\r\nSet-Cookie: x.zip", "a_b;cSet-Cookie_ x.zip"},
		{"\u202eexe.txt", "exe.txt"},
		{"...", "download"},
		{"", "download"},
		{".hidden", "hidden"},
		{"Ümlaut répertoire.zip", "Ümlaut répertoire.zip"},
		{strings.Repeat("é", 300) + ".pst", strings.Repeat("é", 98) + ".pst"},
	} {
		if got := download.SanitizeFileName(tc.in); got != tc.want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestHostileDownloadAfterDemotion: a person whose role may no longer restore (here a tenant
// auditor now) cannot use a link issued before; the link is not used up by the refusal.
func TestHostileDownloadAfterDemotion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 1000, 1<<20, true)
	tk := f.issue(t, alice)
	resp, _, err := f.get(t, tk.Path, "t1|alice|auditor")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNotFound || f.op.calls.Load() != 0 {
		t.Fatalf("demoted: %d, %d VBO calls; want 404 and none", resp.StatusCode, f.op.calls.Load())
	}
	if resp, body, _ := f.get(t, tk.Path, "t1|alice"); resp.StatusCode != 200 || len(body) != 1000 {
		t.Fatalf("restored role: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestHostileDownloadHeadAndRange: a HEAD (or POST) neither calls VBO nor uses the link up; a
// Range request gets the whole file once (200, never a 206 part that would use the link up
// for a fragment), and its record holds what was sent.
func TestHostileDownloadHeadAndRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), 1000, 1<<20, true)
	tk := f.issue(t, alice)
	for _, m := range []string{http.MethodHead, http.MethodPost} {
		req, _ := http.NewRequest(m, f.srv.URL+tk.Path, nil)
		req.Header.Set("X-Test-Person", "t1|alice")
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || f.op.calls.Load() != 0 {
			t.Fatalf("%s: %d, %d VBO calls", m, resp.StatusCode, f.op.calls.Load())
		}
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+tk.Path, nil)
	req.Header.Set("X-Test-Person", "t1|alice")
	req.Header.Set("Range", "bytes=0-9")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 1000 {
		t.Fatalf("Range: %d, %d bytes; want 200 and the whole file", resp.StatusCode, len(body))
	}
	if fin := f.rec.wait(t); fin.Bytes != 1000 || fin.Status != download.StatusSucceeded {
		t.Fatalf("record %+v", fin)
	}
}
