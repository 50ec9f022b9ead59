package e2e_test

// Hostile tests of the restore front door (issue 24): forged, edited and replayed cursors and
// ids, reasons at and past their bounds, huge pages, concurrent starts racing the per-person
// limit, a stop racing browses, a VBO server down or stalling during Explore and Stop (over
// HTTP, websocket and SSE), and the provider admin's steps landing in the provider's chain.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// hostileEnv is the demo fleet (syd1 on VBO API v6, the others on v8) behind a gateway with
// the watch and the front door on; tune adjusts the configuration.
type hostileEnv struct {
	*restoreEnv
	url string // the gateway on loopback (websocket, SSE)
}

func hostileStart(t *testing.T, tune func(*config.Config)) *hostileEnv {
	t.Helper()
	fleet, cfg := restoreFleet(t, 8, 200*time.Millisecond)
	cfg.Restore = config.Restore{Enabled: true, IdleTimeout: time.Hour, ReapInterval: time.Hour, MaxOpenSessionsPerPerson: 3, StepsPerMinute: 6000}
	cfg.Webhooks = config.Webhooks{AllowHTTP: true, AllowPrivateNetworks: []string{"127.0.0.0/8"},
		RetrySchedule: []time.Duration{0, 50 * time.Millisecond}}
	if tune != nil {
		tune(cfg)
	}
	env := restoreGateway(t, fleet, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(env.gw.Handler)
	t.Cleanup(srv.Close)
	return &hostileEnv{restoreEnv: env, url: srv.URL}
}

// actions are the recorded steps of session id as "KIND:STATUS", read by the admin.
func (e *hostileEnv) actions(t *testing.T, id string) (rfReadData, []string) {
	t.Helper()
	var d rfReadData
	postAs(t, e.c, demo.AdminKey, strings.Replace(rfReadOnly, "actions(first: 50)", "actions(first: 500)", 1),
		map[string]any{"id": id, "live": true}).decode(t, &d)
	if d.RestoreSession == nil {
		t.Fatalf("session %s not found by the admin", id)
	}
	return d, d.kinds()
}

// count runs a COUNT(*) on the gateway's store.
func (e *hostileEnv) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.gw.Store.InTx(context.Background(), func(tx store.Tx) error {
		return tx.QueryRow(context.Background(), q, args...).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// verify checks a chain as the admin.
func (e *hostileEnv) verify(t *testing.T, tenant any) (ok bool, records int64) {
	t.Helper()
	var v struct {
		VerifyRestoreActionLog struct {
			OK      bool `json:"ok"`
			Records int64
			Problem *string
		}
	}
	postAs(t, e.c, demo.AdminKey, rfVerify, map[string]any{"t": tenant}).decode(t, &v)
	return v.VerifyRestoreActionLog.OK, v.VerifyRestoreActionLog.Records
}

const rhMailboxes = `query($id: ID!, $after: String, $first: Int, $search: String) { restoreSession(id: $id, live: true) {
	browse { mailboxes(first: $first, after: $after, search: $search) { pageInfo { endCursor } edges { cursor node { id name } } } } } }`

type rhMailboxesData struct {
	RestoreSession *struct {
		Browse *struct {
			Mailboxes struct {
				PageInfo struct{ EndCursor string }
				Edges    []struct {
					Cursor string
					Node   struct{ ID, Name string }
				}
			}
		}
	}
}

// mailboxes pages the mailboxes of session id as key.
func (e *hostileEnv) mailboxes(t *testing.T, key, id string, first int, after string) rhMailboxesData {
	t.Helper()
	var d rhMailboxesData
	vars := map[string]any{"id": id, "first": first}
	if after != "" {
		vars["after"] = after
	}
	postAs(t, e.c, key, rhMailboxes, vars).decode(t, &d)
	if d.RestoreSession == nil || d.RestoreSession.Browse == nil {
		t.Fatalf("session %s: no browser", id)
	}
	return d
}

// wantCode checks r failed with exactly one error of code (and, when given, a message holding
// part).
func wantCode(t *testing.T, what string, r readResult, code, part string) {
	t.Helper()
	if !slices.Equal(r.codes(), []string{code}) || part != "" && !strings.Contains(r.Errors[0].Message, part) {
		t.Errorf("%s: %s %+v, want one %s (%q)", what, r.Data, r.Errors, code, part)
	}
}

// TestRestoreHostileInputs: reasons at and past the 500-character bound and with control
// characters, huge and negative page sizes, forged, edited and replayed cursors (another
// session's, another list's, a stopped session's), an item id and a cursor used as a session
// id, and a session started outside the gateway: each answers a clear error (or the bound
// exactly), nothing refused is recorded, and the chain still verifies.
func TestRestoreHostileInputs(t *testing.T) {
	t.Parallel()
	e := hostileStart(t, nil)
	op := demo.TenantOperatorKey(1)
	org := e.tenantOrgs(t, 1)["mel1"]
	before := e.count(t, `SELECT COUNT(*) FROM restore_action`)

	t.Run("reasons", func(t *testing.T) {
		for _, c := range []struct {
			name, reason, part string
		}{
			{"empty", "", "is required"},
			{"blank", " \t\n ", "is required"},
			{"501 characters", strings.Repeat("a", 501), "at most 500"},
			{"501 runes of 3 bytes", strings.Repeat("€", 501), "at most 500"},
			{"NUL", "ticket\x00 42", "control characters"},
			{"ANSI escape", "ticket \x1b[31m42", "control characters"},
			{"carriage return", "ticket\r\nFAKE LOG LINE", "control characters"},
			{"DEL", "ticket\x7f", "control characters"},
			{"C1 CSI", "ticket \u009b31m 42", "control characters"},
			{"C1 NEL", "ticket\u0085FAKE LINE", "control characters"},
			{"bidi override", "ticket \u202egnp.exe", "control characters"},
		} {
			r := postAs(t, e.c, op, rfStart, map[string]any{"org": org, "reason": c.reason})
			wantCode(t, "reason "+c.name, r, "BAD_USER_INPUT", c.part)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM restore_action`); n != before {
			t.Fatalf("refused starts recorded %d records", n-before)
		}
		// Exactly 500 characters (multi-byte), and newlines and tabs: accepted and recorded as given.
		for _, reason := range []string{strings.Repeat("ü", 500), "line one\n\tline two"} {
			id := e.startExchange(t, op, org, reason)
			var d rfReadData
			postAs(t, e.c, op, rfReadOnly, map[string]any{"id": id, "live": true}).decode(t, &d)
			if show(d.RestoreSession.Attribution.Reason) != reason {
				t.Errorf("reason recorded as %q", show(d.RestoreSession.Attribution.Reason))
			}
			postAs(t, e.c, op, rfStop, map[string]any{"id": id}).decode(t, &struct{}{})
		}
	})

	id := e.startExchange(t, op, org, "hostile inputs")
	other := e.startExchange(t, op, org, "a second session")

	t.Run("page sizes", func(t *testing.T) {
		for _, first := range []int{-1, 501, 1 << 30, 1<<31 - 1} {
			r := postAs(t, e.c, op, rhMailboxes, map[string]any{"id": id, "first": first})
			if !slices.Contains(r.codes(), "BAD_USER_INPUT") && !slices.Contains(r.codes(), "QUERY_TOO_COMPLEX") {
				t.Errorf("first: %d: %s %+v, want refused", first, r.Data, r.Errors)
			}
		}
		r := postAs(t, e.c, op, `query($id: ID!) { restoreSession(id: $id, live: true) { browse { mailboxes(first: 99999999999) { edges { node { id } } } } } }`,
			map[string]any{"id": id})
		if len(r.Errors) == 0 {
			t.Errorf("first beyond Int: %s", r.Data)
		}
		if d := e.mailboxes(t, op, id, 0, ""); len(d.RestoreSession.Browse.Mailboxes.Edges) != 0 {
			t.Errorf("first: 0 listed %d", len(d.RestoreSession.Browse.Mailboxes.Edges))
		}
	})

	t.Run("cursors", func(t *testing.T) {
		page := e.mailboxes(t, op, id, 2, "").RestoreSession.Browse.Mailboxes
		cur := page.PageInfo.EndCursor
		otherCur := e.mailboxes(t, op, other, 2, "").RestoreSession.Browse.Mailboxes.PageInfo.EndCursor
		// The next page from a cursor is the entries after it (ids are sealed afresh each time:
		// compare names).
		next := e.mailboxes(t, op, id, 1, page.Edges[0].Cursor).RestoreSession.Browse.Mailboxes
		if len(next.Edges) != 1 || next.Edges[0].Node.Name != page.Edges[1].Node.Name {
			t.Fatalf("after the first cursor: %+v, want the second mailbox %+v", next.Edges, page.Edges[1])
		}
		edited := []byte(cur)
		edited[len(edited)/2] ^= 0x01
		bad := map[string]string{
			"garbage":                 "not-a-cursor",
			"edited":                  string(edited),
			"truncated":               cur[:len(cur)-4],
			"another session's":       otherCur,
			"a restoreSessions'":      e.sessionsCursor(t, op),
			"an item id":              page.Edges[0].Node.ID,
			"huge":                    strings.Repeat("A", 64<<10),
			"a session id":            id,
			"a stopped session's":     "", // filled below
			"the search's for browse": e.searchCursor(t, op, id),
		}
		stopped := e.startExchange(t, op, org, "stopped soon")
		stoppedCur := e.mailboxes(t, op, stopped, 1, "").RestoreSession.Browse.Mailboxes.PageInfo.EndCursor
		postAs(t, e.c, op, rfStop, map[string]any{"id": stopped}).decode(t, &struct{}{})
		bad["a stopped session's"] = stoppedCur
		for name, c := range bad {
			r := postAs(t, e.c, op, rhMailboxes, map[string]any{"id": id, "first": 2, "after": c})
			if !slices.Equal(r.codes(), []string{"BAD_USER_INPUT"}) {
				t.Errorf("%s cursor: %s %+v, want BAD_USER_INPUT", name, r.Data, r.Errors)
			}
		}
		// The stopped session itself: no browser at all.
		var d rhMailboxesData
		postAs(t, e.c, op, rhMailboxes, map[string]any{"id": stopped, "first": 1, "after": stoppedCur}).decode(t, &d)
		if d.RestoreSession == nil || d.RestoreSession.Browse != nil {
			t.Errorf("a stopped session's browser: %+v", d.RestoreSession)
		}
	})

	t.Run("ids", func(t *testing.T) {
		item := e.mailboxes(t, op, id, 1, "").RestoreSession.Browse.Mailboxes.Edges[0].Node.ID
		sid, _ := gid.Parse(id)
		missing := gid.ID{Kind: gid.KindRestoreSession, Server: sid.Server, Upstream: isoRandomUUID()}.String()
		ref := postAs(t, e.c, op, rfStop, map[string]any{"id": missing})
		wantCode(t, "stop of a missing session", ref, "NOT_FOUND", "")
		for name, v := range map[string]string{
			"an item id":            item,
			"a browse cursor":       e.mailboxes(t, op, id, 1, "").RestoreSession.Browse.Mailboxes.PageInfo.EndCursor,
			"an organisation id":    org,
			"upper-cased VBO id":    gid.ID{Kind: gid.KindRestoreSession, Server: sid.Server, Upstream: strings.ToUpper(sid.Upstream)}.String(),
			"another server's":      gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: sid.Upstream}.String(),
			"an unknown server's":   gid.ID{Kind: gid.KindRestoreSession, Server: "nosuch1", Upstream: sid.Upstream}.String(),
			"a 64 KiB id":           strings.Repeat("x", 64<<10),
			"a session id with NUL": id + "\x00",
		} {
			r := postAs(t, e.c, op, rfStop, map[string]any{"id": v})
			if c := r.codes(); !slices.Equal(c, []string{"NOT_FOUND"}) && !slices.Equal(c, []string{"BAD_USER_INPUT"}) {
				t.Errorf("stop with %s: %s %+v, want NOT_FOUND or BAD_USER_INPUT", name, r.Data, r.Errors)
			}
		}
		// The session still runs: none of those stopped it.
		if d, _ := e.actions(t, id); d.RestoreSession.State == "STOPPED" {
			t.Fatal("a forged id stopped the session")
		}
	})

	if ok, n := e.verify(t, "tenant-1"); !ok || n == 0 {
		t.Fatalf("tenant-1's chain after the hostile inputs: ok %v, %d records", ok, n)
	}
}

// sessionsCursor is a cursor of restoreSessions (another kind of list altogether).
func (e *hostileEnv) sessionsCursor(t *testing.T, key string) string {
	t.Helper()
	var d struct {
		RestoreSessions struct{ PageInfo struct{ EndCursor string } }
	}
	postAs(t, e.c, key, `{ restoreSessions(first: 1, live: true) { pageInfo { endCursor } } }`, nil).decode(t, &d)
	return d.RestoreSessions.PageInfo.EndCursor
}

// searchCursor is a cursor of a search of session id's mailboxes.
func (e *hostileEnv) searchCursor(t *testing.T, key, id string) string {
	t.Helper()
	var d rhMailboxesData
	postAs(t, e.c, key, rhMailboxes, map[string]any{"id": id, "first": 1, "search": "a"}).decode(t, &d)
	if d.RestoreSession == nil || d.RestoreSession.Browse == nil || len(d.RestoreSession.Browse.Mailboxes.Edges) == 0 {
		t.Fatalf("search found nothing: %+v", d)
	}
	return d.RestoreSession.Browse.Mailboxes.PageInfo.EndCursor
}

// TestRestoreHostileConcurrentStarts: ten starts at once for one person (restore.
// maxOpenSessionsPerPerson 3): exactly three open, seven RATE_LIMITED naming the setting; each
// open one has its START recorded and answered, the refused ones none; another person of the
// same tenant is not held back; the chain verifies.
func TestRestoreHostileConcurrentStarts(t *testing.T) {
	t.Parallel()
	e := hostileStart(t, nil)
	op := demo.TenantOperatorKey(1)
	org := e.tenantOrgs(t, 1)["mel1"]
	const n = 10
	results := make([]readResult, n)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			results[i] = postAs(t, e.c, op, rfStart, map[string]any{"org": org, "reason": fmt.Sprintf("race %d", i)})
		}()
	}
	close(release)
	wg.Wait()
	var ok []string
	limited := 0
	for _, r := range results {
		switch {
		case len(r.Errors) == 0:
			var s struct{ StartRestoreSession struct{ ID string } }
			r.decode(t, &s)
			ok = append(ok, s.StartRestoreSession.ID)
		case slices.Equal(r.codes(), []string{"RATE_LIMITED"}) && strings.Contains(r.Errors[0].Message, "restore.maxOpenSessionsPerPerson"):
			limited++
		default:
			t.Errorf("a racing start: %+v", r.Errors)
		}
	}
	if len(ok) != 3 || limited != n-3 {
		t.Fatalf("%d started, %d refused; want 3 and %d", len(ok), limited, n-3)
	}
	person := "apikey:" + op
	if got := e.count(t, `SELECT COUNT(*) FROM restore_gateway_session WHERE person = ? AND is_open`, person); got != 3 {
		t.Errorf("%d open gateway sessions for the person, want 3", got)
	}
	if got := e.count(t, `SELECT COUNT(*) FROM restore_action WHERE tenant = 'tenant-1' AND kind = 'START'`); got != 6 {
		t.Errorf("%d START records (steps and outcomes), want 6", got)
	}
	for _, id := range ok {
		if _, k := e.actions(t, id); !slices.Equal(k, []string{"START:SUCCEEDED"}) {
			t.Errorf("session %s: actions %v", id, k)
		}
	}
	// Another person of the same tenant still may.
	e.startExchange(t, demo.TenantAdminKey(1), org, "another person")
	if ok, recs := e.verify(t, "tenant-1"); !ok || recs != 8 {
		t.Fatalf("tenant-1's chain: ok %v, %d records, want 8", ok, recs)
	}
}

// TestRestoreHostileStopRacesBrowse: browses of every depth race the stop of their session:
// no panic, each browse answers entries, a null browser or NOT_FOUND (never another error),
// the session ends STOPPED with its STOP the last step, every step is answered (none left
// PENDING), no step follows the STOP, and the chain verifies.
func TestRestoreHostileStopRacesBrowse(t *testing.T) {
	t.Parallel()
	e := hostileStart(t, nil)
	op := demo.TenantOperatorKey(1)
	for round := range 3 {
		id := e.startExchange(t, op, e.tenantOrgs(t, 1)["mel1"], fmt.Sprintf("round %d", round))
		var wg sync.WaitGroup
		errs := make(chan string, 64)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := postAs(t, e.c, op, rfBrowse, map[string]any{"id": id})
				for _, c := range r.codes() {
					if c != "NOT_FOUND" {
						errs <- fmt.Sprintf("%s: %+v", c, r.Errors)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(round) * 5 * time.Millisecond)
			if r := postAs(t, e.c, op, rfStop, map[string]any{"id": id}); len(r.Errors) > 0 {
				errs <- fmt.Sprintf("stop: %+v", r.Errors)
			}
		}()
		wg.Wait()
		close(errs)
		for m := range errs {
			t.Errorf("round %d: %s", round, m)
		}
		d, k := e.actions(t, id)
		if d.RestoreSession.State != "STOPPED" || len(k) < 2 || k[0] != "START:SUCCEEDED" || k[len(k)-1] != "STOP:SUCCEEDED" {
			t.Errorf("round %d: state %s, actions %v", round, d.RestoreSession.State, k)
		}
		for _, s := range k {
			if strings.HasSuffix(s, ":PENDING") {
				t.Errorf("round %d: a step left pending: %v", round, k)
			}
		}
		var after rhMailboxesData
		postAs(t, e.c, op, rhMailboxes, map[string]any{"id": id, "first": 1}).decode(t, &after)
		if after.RestoreSession == nil || after.RestoreSession.Browse != nil {
			t.Errorf("round %d: a stopped session still browses", round)
		}
	}
	if got := e.count(t, `SELECT COUNT(*) FROM restore_gateway_session WHERE is_open`); got != 0 {
		t.Errorf("%d sessions left open", got)
	}
	if ok, _ := e.verify(t, "tenant-1"); !ok {
		t.Fatal("tenant-1's chain does not verify")
	}
}

// TestRestoreHostileProviderAdminChain: the provider admin's session on tenant 1's
// organisation is recorded in the provider's chain (tenant null), not tenant 1's: tenant 1
// sees its attribution (the admin, tenant null) but cannot browse or stop it (NOT_FOUND, like a
// missing session), and its admin may not verify the provider's chain nor another tenant's
// (FORBIDDEN, the same for an existing and a missing tenant).
func TestRestoreHostileProviderAdminChain(t *testing.T) {
	t.Parallel()
	e := hostileStart(t, nil)
	org := e.tenantOrgs(t, 1)["syd1"]
	_, t1Before := e.verify(t, "tenant-1")
	_, provBefore := e.verify(t, nil)
	id := e.startExchange(t, demo.AdminKey, org, "provider support ticket 9")
	browse := e.mailboxes(t, demo.AdminKey, id, 1, "")
	if len(browse.RestoreSession.Browse.Mailboxes.Edges) != 1 {
		t.Fatal("the admin cannot browse its session")
	}
	if ok, n := e.verify(t, nil); !ok || n != provBefore+4 {
		t.Errorf("provider chain: ok %v, %d records, want %d (START and BROWSE, each begun and answered)", ok, n, provBefore+4)
	}
	if ok, n := e.verify(t, "tenant-1"); !ok || n != t1Before {
		t.Errorf("tenant-1's chain: ok %v, %d records, want it untouched at %d", ok, n, t1Before)
	}
	sid, _ := gid.Parse(id)
	missing := gid.ID{Kind: gid.KindRestoreSession, Server: sid.Server, Upstream: isoRandomUUID()}.String()
	for _, key := range []string{demo.TenantOperatorKey(1), demo.TenantAdminKey(1)} {
		var d rfReadData
		postAs(t, e.c, key, rfRead, map[string]any{"id": id, "live": true}).decode(t, &d)
		a := d.RestoreSession.Attribution
		if !a.ThroughGateway || show(a.Person) != "apikey:"+demo.AdminKey || a.Tenant != nil || d.RestoreSession.Browse != nil {
			t.Errorf("%s reads the admin's session as %+v", key, d.RestoreSession)
		}
		stop, miss := postAs(t, e.c, key, rfStop, map[string]any{"id": id}), postAs(t, e.c, key, rfStop, map[string]any{"id": missing})
		if !slices.Equal(stop.codes(), []string{"NOT_FOUND"}) || !sameErrors(stop, miss) {
			t.Errorf("%s stops the admin's session: %+v; a missing one: %+v", key, stop.Errors, miss.Errors)
		}
	}
	t1Admin := demo.TenantAdminKey(1)
	var refusals []readResult
	for _, tenant := range []any{"tenant-2", "tenant-99", "", "TENANT-1", "tenant-1 "} {
		r := postAs(t, e.c, t1Admin, rfVerify, map[string]any{"t": tenant})
		wantCode(t, fmt.Sprintf("tenant-1's admin verifying %q", tenant), r, "FORBIDDEN", "")
		refusals = append(refusals, r)
	}
	for _, r := range refusals[1:] {
		if !sameErrors(r, refusals[0]) {
			t.Errorf("verify refusals differ: %+v and %+v", r.Errors, refusals[0].Errors)
		}
	}
	// The provider's chain: not the tenant admin's (its own tenant only, null meaning its own).
	var v struct{ VerifyRestoreActionLog struct{ Tenant *string } }
	postAs(t, e.c, t1Admin, rfVerify, nil).decode(t, &v)
	if show(v.VerifyRestoreActionLog.Tenant) != "tenant-1" {
		t.Errorf("tenant-1's admin verifying null checked %s", show(v.VerifyRestoreActionLog.Tenant))
	}
	postAs(t, e.c, demo.AdminKey, rfStop, map[string]any{"id": id}).decode(t, &struct{}{})
	if ok, n := e.verify(t, nil); !ok || n != provBefore+6 {
		t.Errorf("provider chain after the stop: ok %v, %d records, want %d", ok, n, provBefore+6)
	}
}

// sameErrors reports whether two answers carry the same errors (messages and extensions).
func sameErrors(a, b readResult) bool {
	ja, _ := json.Marshal(a.Errors)
	jb, _ := json.Marshal(b.Errors)
	return bytes.Equal(ja, jb)
}

// rhSSE is one caller's graphql-sse client ("distinct connections" mode): each operation is a
// POST asking for text/event-stream, its answer the next event's data.
type rhSSE struct {
	url, key string
}

func (c rhSSE) RawPost(query string, options ...client.Option) (*client.Response, error) {
	req := client.Request{Query: query}
	for _, o := range options {
		o(&req)
	}
	body, err := json.Marshal(map[string]any{"query": req.Query, "variables": req.Variables})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("SSE: %s %s: %s", resp.Status, resp.Header.Get("Content-Type"), b)
	}
	var out *client.Response
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "next":
			if out != nil {
				return nil, fmt.Errorf("SSE: a query answered twice")
			}
			out = &client.Response{}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), out); err != nil {
				return nil, err
			}
		case line == "" && event == "complete":
			if out == nil {
				return nil, fmt.Errorf("SSE: completed without an answer")
			}
			return out, nil
		}
	}
	if out != nil {
		return out, nil
	}
	return nil, fmt.Errorf("SSE: the stream ended without an answer: %v", sc.Err())
}

// rhTransports dial one caller over each transport a query or mutation may take.
var rhTransports = []struct {
	name string
	dial func(t *testing.T, h http.Handler, url, key string) isoCaller
}{
	{"http", func(_ *testing.T, h http.Handler, _, key string) isoCaller {
		return client.New(h, client.Path("/graphql"), client.AddHeader("Authorization", "Bearer "+key))
	}},
	{"websocket", func(t *testing.T, _ http.Handler, url, key string) isoCaller { return isoDialWSURL(t, url, key) }},
	{"sse", func(_ *testing.T, _ http.Handler, url, key string) isoCaller { return rhSSE{url: url, key: key} }},
}

// TestRestoreHostileUpstreamFaults: a VBO server that is down (503) or stalls while asked to
// Explore, Stop or list a page, over HTTP, websocket and SSE: the caller gets a typed error
// (UPSTREAM_*) within the request deadline, the gateway stays up, and the record says the step
// failed, and for an answer that never came that its outcome is unknown; a stop closes the
// gateway session whatever VBO answered.
func TestRestoreHostileUpstreamFaults(t *testing.T) {
	const deadline = 2 * time.Second
	e := hostileStart(t, func(c *config.Config) {
		c.Resilience = config.Resilience{RequestTimeout: deadline, RetryAttempts: 3, RetryBaseDelay: time.Millisecond,
			RetryMaxDelay: 5 * time.Millisecond, BreakerFailures: -1}
	})
	op := demo.TenantOperatorKey(1)
	org := e.tenantOrgs(t, 1)["mel1"]
	sim := e.fleet.Sims["mel1"]
	down, stall := vbosim.Faults{Down: true}, vbosim.Faults{Latency: 20 * time.Second}
	failed := func(kind, part string) int {
		return e.count(t, `SELECT COUNT(*) FROM restore_action WHERE record = 'OUTCOME' AND tenant = 'tenant-1' AND kind = ? AND status = 'FAILED' AND error LIKE ?`,
			kind, "%"+part+"%")
	}
	timed := func(t *testing.T, what string, fn func() (map[string]json.RawMessage, []isoErr)) []isoErr {
		t.Helper()
		begin := time.Now()
		data, errs := fn()
		if el := time.Since(begin); el > deadline+time.Second {
			t.Errorf("%s: answered after %v, past the %v deadline", what, el, deadline)
		}
		if len(errs) == 0 || !strings.HasPrefix(errs[0].code(), "UPSTREAM_") {
			t.Errorf("%s: %s %+v, want an UPSTREAM_* error", what, mustJSON(data), errs)
		}
		return errs
	}
	for _, tr := range rhTransports {
		t.Run(tr.name, func(t *testing.T) {
			c := tr.dial(t, e.gw.Handler, e.url, op)
			run := func(q string, vars map[string]any) (map[string]json.RawMessage, []isoErr) {
				return isoRun(t, c, q, vars)
			}
			for name, f := range map[string]vbosim.Faults{"down": down, "stalled": stall} {
				unknown := failed("START", "outcome unknown")
				all := failed("START", "")
				isoMust(t, c, `{ organizations(first: 100) { totalCount } }`, nil, &struct{}{}) // the listing cached: Explore is the call that fails
				sim.SetFaults(f)
				timed(t, "start, VBO "+name, func() (map[string]json.RawMessage, []isoErr) {
					return run(rfStart, map[string]any{"org": org, "reason": "faults " + tr.name})
				})
				sim.SetFaults(vbosim.Faults{})
				if failed("START", "") != all+1 {
					t.Errorf("start, VBO %s: no failed START recorded", name)
				}
				if name == "stalled" && failed("START", "outcome unknown") != unknown+1 {
					t.Errorf("start, VBO stalled: not recorded as outcome unknown")
				}

				var started struct{ StartRestoreSession struct{ ID string } }
				isoMust(t, c, rfStart, map[string]any{"org": org, "reason": "to be stopped " + name}, &started)
				id := started.StartRestoreSession.ID
				sim.SetFaults(f)
				timed(t, "browse, VBO "+name, func() (map[string]json.RawMessage, []isoErr) {
					return run(rhMailboxes, map[string]any{"id": id, "first": 2})
				})
				stopsFailed := failed("STOP", "")
				timed(t, "stop, VBO "+name, func() (map[string]json.RawMessage, []isoErr) { return run(rfStop, map[string]any{"id": id}) })
				sim.SetFaults(vbosim.Faults{})
				if failed("STOP", "") != stopsFailed+1 {
					t.Errorf("stop, VBO %s: no failed STOP recorded", name)
				}
				var after rhMailboxesData
				isoMust(t, c, rhMailboxes, map[string]any{"id": id, "first": 1}, &after)
				if after.RestoreSession == nil || after.RestoreSession.Browse != nil {
					t.Errorf("stop, VBO %s: the gateway session is still open", name)
				}
			}
		})
	}
	if got := e.count(t, `SELECT COUNT(*) FROM restore_action b WHERE b.record = 'BEGIN' AND NOT EXISTS
		(SELECT 1 FROM restore_action o WHERE o.record = 'OUTCOME' AND o.ref_id = b.id)`); got != 0 {
		t.Errorf("%d steps left without an outcome", got)
	}
	if ok, _ := e.verify(t, "tenant-1"); !ok {
		t.Fatal("tenant-1's chain does not verify")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
