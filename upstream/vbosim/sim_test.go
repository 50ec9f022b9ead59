package vbosim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestTimeSpan(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "00:00:00"},
		{1234567800 * time.Nanosecond, "00:00:01.2345678"},
		{26*time.Hour + 3*time.Minute + 4*time.Second, "1.02:03:04"},
		{44692800 * time.Nanosecond, "00:00:00.0446928"},
		{-90 * time.Second, "-00:01:30"},
	} {
		if got := TimeSpan(c.d); got != c.want {
			t.Errorf("TimeSpan(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// walkSessions pages through /RestoreSessions following _links.next, checking the envelope.
func walkSessions(t *testing.T, h *harness, query string, limit int) []upstream.RestoreSession {
	t.Helper()
	var all []upstream.RestoreSession
	path := "/" + h.sim.APIVersion() + "/RestoreSessions?limit=" + strconv.Itoa(limit) + query
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("pagination does not terminate")
		}
		var p upstream.Page[upstream.RestoreSession]
		h.getJSON(path, &p)
		if p.Limit != limit || p.Offset != len(all) {
			t.Fatalf("envelope offset/limit = %d/%d, want %d/%d", p.Offset, p.Limit, len(all), limit)
		}
		if p.Links["self"].Href == "" {
			t.Fatalf("missing self link")
		}
		all = append(all, p.Results...)
		next, hasNext := p.Links["next"]
		if len(p.Results) < limit {
			if hasNext {
				t.Fatalf("short page with next link")
			}
			return all
		}
		if !hasNext {
			// exact multiple: the client asks once more and gets an empty page
			if len(p.Results) != limit {
				t.Fatal("unreachable")
			}
			path = "/" + h.sim.APIVersion() + "/RestoreSessions?limit=" + strconv.Itoa(limit) + "&offset=" + strconv.Itoa(len(all)) + query
			continue
		}
		if !strings.HasPrefix(next.Href, "/"+h.sim.APIVersion()+"/RestoreSessions?") {
			t.Fatalf("next href %q", next.Href)
		}
		path = next.Href
	}
}

func ids(ss []upstream.RestoreSession) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func TestPaginationAndOrder(t *testing.T) {
	for _, ver := range []string{"v6", "v7", "v8"} {
		t.Run(ver, func(t *testing.T) {
			h := newHarness(t, Options{APIVersion: ver, Sessions: 95})
			want := h.sim.Sessions()
			if len(want) != 95 {
				t.Fatalf("len %d", len(want))
			}
			for i := 1; i < len(want); i++ {
				a, b := want[i-1], want[i]
				if a.CreationTime.Before(b.CreationTime) || (a.CreationTime.Equal(b.CreationTime) && a.ID > b.ID) {
					t.Fatalf("not newest first at %d", i)
				}
			}
			for _, limit := range []int{1, 7, 30, 95, 10000} {
				got := walkSessions(t, h, "", limit)
				if !reflect.DeepEqual(ids(got), ids(want)) {
					t.Fatalf("limit %d: paged ids differ", limit)
				}
			}
			// default limit 30, totalCount only before v8
			var p upstream.Page[upstream.RestoreSession]
			h.getJSON("/"+ver+"/RestoreSessions", &p)
			if p.Limit != 30 || len(p.Results) != 30 || p.Links["next"].Href != "/"+ver+"/RestoreSessions?offset=30&limit=30" {
				t.Fatalf("default page: limit %d, %d results, links %v", p.Limit, len(p.Results), p.Links)
			}
			if (p.TotalCount != nil) != (ver != "v8") || (p.TotalCount != nil && *p.TotalCount != 95) {
				t.Fatalf("totalCount %v", p.TotalCount)
			}
			if ver == "v8" && p.Results[0].ETag == nil || ver != "v8" && p.Results[0].ETag != nil {
				t.Fatalf("eTag presence wrong for %s", ver)
			}
			// beyond the end
			h.getJSON("/"+ver+"/RestoreSessions?offset=500", &p)
			if len(p.Results) != 0 || p.Links["next"].Href != "" {
				t.Fatalf("beyond end: %d results", len(p.Results))
			}
			// parameter errors
			for _, q := range []string{"limit=0", "limit=10001", "limit=abc", "offset=-1", "offset=x", "startTimeFrom=nope", "startTimeTo=2026-13-01"} {
				if r := h.get("/" + ver + "/RestoreSessions?" + q); r.status != 400 || !strings.Contains(string(r.body), `"message"`) {
					t.Errorf("%s: %d %s", q, r.status, r.body)
				}
			}
		})
	}
}

func TestTimeFilters(t *testing.T) {
	h := newHarness(t, Options{Sessions: 400})
	all := h.sim.Sessions()
	from := testNow.Add(-30 * 24 * time.Hour)
	to := testNow.Add(-10 * 24 * time.Hour)
	// make the boundary exact: use an existing creationTime as "from" and another as "to"
	for _, s := range all {
		if s.CreationTime.Before(from) {
			from = s.CreationTime
			break
		}
	}
	for _, s := range all {
		if s.CreationTime.Before(to) {
			to = s.CreationTime
			break
		}
	}
	var want []upstream.RestoreSession
	for _, s := range all {
		if !s.CreationTime.Before(from) && s.CreationTime.Before(to) {
			want = append(want, s)
		}
	}
	for _, c := range []struct{ name, q string }{
		{"rfc3339nano", "&startTimeFrom=" + url.QueryEscape(from.Format(time.RFC3339Nano)) + "&startTimeTo=" + url.QueryEscape(to.Format(time.RFC3339Nano))},
		{"offset zone", "&startTimeFrom=" + url.QueryEscape(from.In(time.FixedZone("x", 2*3600)).Format(time.RFC3339Nano)) + "&startTimeTo=" + url.QueryEscape(to.Format(time.RFC3339Nano))},
		{"lowercase names", "&starttimefrom=" + url.QueryEscape(from.Format(time.RFC3339Nano)) + "&STARTTIMETO=" + url.QueryEscape(to.Format(time.RFC3339Nano))},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := walkSessions(t, h, c.q, 13)
			if len(want) == 0 || !reflect.DeepEqual(ids(got), ids(want)) {
				t.Fatalf("got %d sessions, want %d", len(got), len(want))
			}
			if got[0].ID != want[0].ID || !got[len(got)-1].CreationTime.Equal(from) {
				t.Fatal("from must be inclusive")
			}
		})
	}
	// only from: everything at or after from
	got := walkSessions(t, h, "&startTimeFrom="+from.Add(time.Nanosecond*100).Format(time.RFC3339Nano), 100)
	for _, s := range got {
		if !s.CreationTime.After(from) {
			t.Fatal("startTimeFrom not applied")
		}
	}
	// date-only and zone-less forms are UTC
	got = walkSessions(t, h, "&startTimeFrom=2026-11-01&startTimeTo=2026-11-10T00:00:00", 100)
	for _, s := range got {
		if s.CreationTime.Before(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !s.CreationTime.Before(time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("session %v outside window", s.CreationTime)
		}
	}
	// inverted window: empty page, not an error
	var p upstream.Page[upstream.RestoreSession]
	h.getJSON("/v6/RestoreSessions?startTimeFrom=2026-11-10T00:00:00Z&startTimeTo=2026-11-01T00:00:00Z", &p)
	if len(p.Results) != 0 || *p.TotalCount != 0 {
		t.Fatal("inverted window should be empty")
	}
	// spread over 90 days and over all orgs
	orgs := map[string]bool{}
	for _, s := range all {
		orgs[s.Organization] = true
		if s.CreationTime.Before(testNow.Add(-90*24*time.Hour)) || s.CreationTime.After(testNow) {
			t.Fatalf("creationTime %v outside the 90 days before Now", s.CreationTime)
		}
	}
	if len(orgs) != 8 {
		t.Fatalf("sessions cover %d orgs, want 8", len(orgs))
	}
}

func TestRoutingAndCase(t *testing.T) {
	h := newHarness(t, Options{Sessions: 20})
	sid := h.sim.Sessions()[3].ID
	ev := h.sim.Events(sid)
	org := h.sim.Organizations()[1].ID
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v6/RestoreSessions", 200},
		{"GET", "/V6/restoresessions", 200},
		{"GET", "/v6/RESTORESESSIONS/" + strings.ToUpper(sid), 200},
		{"GET", "/v6/restoresessions/" + sid + "/events?LIMIT=5&Offset=1", 200},
		{"GET", "/v6/RestoreSessions/" + sid + "/Events/" + ev[len(ev)-1].ID, 200},
		{"GET", "/v6/organizations", 200},
		{"GET", "/v6/Organizations/" + org, 200},
		{"GET", "/v6/restoresessions/", 200}, // trailing slash tolerated
		{"GET", "/v6/Jobs", 404},
		{"GET", "/v6/RestoreSessions/" + sid + "/organization", 404},
		{"GET", "/v8/RestoreSessions", 404}, // other API version
		{"GET", "/v7/token", 404},
		{"GET", "/RestoreSessions", 404},
		{"GET", "/", 404},
		{"DELETE", "/v6/RestoreSessions/" + sid, 405},
		{"POST", "/v6/RestoreSessions", 405},
		{"GET", "/v6/token", 405},
		{"GET", "/v6/RestoreSessions/not-a-uuid", 400},
		{"GET", "/v6/RestoreSessions/" + sid + "/Events/not-a-uuid", 400},
		{"GET", "/v6/RestoreSessions/3f2504e0-4f89-41d3-9a0c-0305e82c3301/Events", 404},
		{"GET", "/v6/RestoreSessions/" + sid + "/Events/" + h.sim.Sessions()[4].ID, 404},
	} {
		if h.tok == "" {
			h.login()
		}
		r := h.do(c.method, c.path, nil, map[string]string{"Authorization": "Bearer " + h.tok})
		if r.status != c.status {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.path, r.status, c.status, r.body)
		}
		if r.header.Get("Content-Type") != contentTypeJSON {
			t.Errorf("%s %s: content type %q", c.method, c.path, r.header.Get("Content-Type"))
		}
		var e upstream.ExceptionInfo
		if r.status >= 400 {
			mustJSON(t, r.body, &e)
			if e.Message == "" {
				t.Errorf("%s %s: no message", c.method, c.path)
			}
		}
	}
}

func TestOrganizationsByVersion(t *testing.T) {
	for _, ver := range []string{"v6", "v7", "v8"} {
		t.Run(ver, func(t *testing.T) {
			h := newHarness(t, Options{APIVersion: ver, Orgs: 45})
			r := h.get("/" + ver + "/Organizations")
			var orgs []upstream.Organization
			if ver != "v8" {
				mustJSON(t, r.body, &orgs)
				if len(orgs) != 45 {
					t.Fatalf("%d orgs", len(orgs))
				}
			} else {
				var p upstream.Page[upstream.Organization]
				mustJSON(t, r.body, &p)
				if len(p.Results) != 30 || p.Links["next"].Href == "" {
					t.Fatalf("v8 page: %d results", len(p.Results))
				}
				orgs = p.Results
				h.getJSON("/v8/Organizations?offset=30&limit=30", &p)
				if len(p.Results) != 15 || p.Links["next"].Href != "" {
					t.Fatalf("v8 page 2: %d results", len(p.Results))
				}
				orgs = append(orgs, p.Results...)
			}
			if !reflect.DeepEqual(ids2(orgs), ids2(h.sim.Organizations())) {
				t.Fatal("org order differs from Organizations()")
			}
			// extendedView: default true in v6, false in v7/v8
			wantExt := ver == "v6"
			if (orgs[0].IsBackedup != nil) != wantExt {
				t.Errorf("default extendedView: isBackedup present = %v", orgs[0].IsBackedup != nil)
			}
			var o upstream.Organization
			h.getJSON("/"+ver+"/Organizations/"+orgs[0].ID+"?extendedView=true", &o)
			if o.IsBackedup == nil || o.Name != orgs[0].Name || o.Links["self"].Href != "/"+ver+"/Organizations/"+o.ID {
				t.Errorf("org get: %+v", o)
			}
			if r := h.get("/" + ver + "/Organizations?extendedView=maybe"); r.status != 400 {
				t.Errorf("bad extendedView: %d", r.status)
			}
		})
	}
}

func ids2(os []upstream.Organization) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.ID
	}
	return out
}

func TestAuth(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	h := newHarness(t, Options{Sessions: 10, Clock: clk.Now, TokenLifetime: 30 * time.Minute, RefreshTokenLifetime: 2 * time.Hour})
	other := newHarness(t, Options{Sessions: 10})
	otherTok := other.login()

	tok := h.login()
	if tok.TokenType != "bearer" || tok.ExpiresIn != 1800 || tok.UserName != "admin" || tok.RefreshToken == "" {
		t.Fatalf("token: %+v", tok)
	}
	issued, err1 := time.Parse(time.RFC3339, tok.Issued)
	expires, err2 := time.Parse(time.RFC3339, tok.Expires)
	if err1 != nil || err2 != nil || expires.Sub(issued) != 30*time.Minute {
		t.Fatalf(".issued/.expires: %q %q", tok.Issued, tok.Expires)
	}
	get := func(hdr string) int {
		m := map[string]string{}
		if hdr != "" {
			m["Authorization"] = hdr
		}
		r := h.do("GET", "/v6/RestoreSessions?limit=1", nil, m)
		if r.status == 401 {
			var e upstream.ExceptionInfo
			mustJSON(t, r.body, &e)
			if e.Message != "Authorization has been denied for this request." {
				t.Errorf("401 body %s", r.body)
			}
		}
		return r.status
	}
	for _, c := range []struct {
		name, hdr string
		want      int
	}{
		{"valid", "Bearer " + tok.AccessToken, 200},
		{"scheme case", "bearer " + tok.AccessToken, 200},
		{"missing", "", 401},
		{"garbage", "Bearer garbage", 401},
		{"basic", "Basic YWRtaW46cGFzc3dvcmQ=", 401},
		{"refresh token as access", "Bearer " + tok.RefreshToken, 401},
		{"tampered", "Bearer " + tok.AccessToken[:len(tok.AccessToken)-2] + "xx", 401},
		{"other server", "Bearer " + otherTok.AccessToken, 401},
	} {
		if got := get(c.hdr); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// lifetime
	clk.Add(29 * time.Minute)
	if got := get("Bearer " + tok.AccessToken); got != 200 {
		t.Fatalf("before expiry: %d", got)
	}
	clk.Add(time.Minute)
	if got := get("Bearer " + tok.AccessToken); got != 401 {
		t.Fatalf("after expiry: %d", got)
	}
	// refresh grant (form and JSON)
	r := h.do("POST", "/v6/token", form("grant_type", "refresh_token", "refresh_token", tok.RefreshToken), formHdr)
	var tok2 upstream.Token
	mustJSON(t, r.body, &tok2)
	if r.status != 200 || tok2.AccessToken == tok.AccessToken || get("Bearer "+tok2.AccessToken) != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v6/TOKEN", strings.NewReader(`{"grant_type":"refresh_token","refresh_token":"`+tok2.RefreshToken+`"}`), map[string]string{"Content-Type": "application/json"})
	if r.status != 200 {
		t.Fatalf("json refresh: %d %s", r.status, r.body)
	}
	clk.Add(3 * time.Hour)
	r = h.do("POST", "/v6/token", form("grant_type", "refresh_token", "refresh_token", tok2.RefreshToken), formHdr)
	if r.status != 400 || !strings.Contains(string(r.body), `"invalid_grant"`) {
		t.Fatalf("expired refresh: %d %s", r.status, r.body)
	}
	// grant errors
	for _, c := range []struct {
		name, body, ct, wantErr string
	}{
		{"wrong password", "grant_type=password&username=admin&password=x", "application/x-www-form-urlencoded", "invalid_grant"},
		{"wrong user", "grant_type=password&username=root&password=password", "application/x-www-form-urlencoded", "invalid_grant"},
		{"bad refresh", "grant_type=refresh_token&refresh_token=x", "application/x-www-form-urlencoded", "invalid_grant"},
		{"no grant", "username=admin&password=password", "application/x-www-form-urlencoded", "unsupported_grant_type"},
		{"jwt grant", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x", "application/x-www-form-urlencoded", "unsupported_grant_type"},
		{"json wrong password", `{"grant_type":"password","username":"admin","password":"x"}`, "application/json", "invalid_grant"},
	} {
		r := h.do("POST", "/v6/token", strings.NewReader(c.body), map[string]string{"Content-Type": c.ct})
		var e struct {
			Error string `json:"error"`
		}
		mustJSON(t, r.body, &e)
		if r.status != 400 || e.Error != c.wantErr {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	// v8 accepts disable_antiforgery_token, form and JSON
	h8 := newHarness(t, Options{APIVersion: "v8", Sessions: 5})
	for _, body := range []struct{ b, ct string }{
		{"grant_type=password&username=admin&password=password&disable_antiforgery_token=true", "application/x-www-form-urlencoded"},
		{`{"grant_type":"password","username":"admin","password":"password","disable_antiforgery_token":true}`, "application/json; charset=utf-8"},
	} {
		if r := h8.do("POST", "/v8/token", strings.NewReader(body.b), map[string]string{"Content-Type": body.ct}); r.status != 200 {
			t.Errorf("v8 token: %d %s", r.status, r.body)
		}
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t, Options{Sessions: 10})
	sid := h.sim.Sessions()[0].ID
	h.login()
	h.get("/v6/RestoreSessions")
	h.get("/v6/restoresessions?limit=2")
	h.get("/v6/RestoreSessions/" + sid + "/Events")
	h.get("/v6/RestoreSessions/" + sid)
	h.get("/v6/Organizations")
	h.do("GET", "/v6/RestoreSessions", nil, nil) // 401 still counts
	h.get("/v6/Nope")                            // 404: not a VBO route, not counted
	h.do("PUT", "/v6/RestoreSessions", nil, nil) // 405: not counted
	want := map[string]int{
		"POST /v6/token":          1,
		"GET /v6/RestoreSessions": 3,
		"GET /v6/RestoreSessions/{restoreSessionId}/Events": 1,
		"GET /v6/RestoreSessions/{restoreSessionId}":        1,
		"GET /v6/Organizations":                             1,
	}
	r := h.do("GET", "/_sim/stats", nil, nil)
	var st Stats
	mustJSON(t, r.body, &st)
	if r.status != 200 || st.Total != 7 || !reflect.DeepEqual(st.Calls, want) {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	if h.sim.Calls("GET /v6/RestoreSessions") != 3 || !reflect.DeepEqual(h.sim.Stats(), st) {
		t.Fatal("Calls/Stats disagree with /_sim/stats")
	}
	r = h.do("DELETE", "/_sim/stats", nil, nil)
	if r.status != 200 || h.sim.Stats().Total != 0 || len(h.sim.Stats().Calls) != 0 {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	h.get("/v6/RestoreSessions")
	h.sim.ResetStats()
	if h.sim.Calls("GET /v6/RestoreSessions") != 0 {
		t.Fatal("ResetStats")
	}
}

func TestFaults(t *testing.T) {
	h := newHarness(t, Options{Sessions: 10})
	h.login()
	path := "/v6/RestoreSessions?limit=1"

	t.Run("latency", func(t *testing.T) {
		h.sim.SetFaults(Faults{Latency: 80 * time.Millisecond, Jitter: 20 * time.Millisecond})
		start := time.Now()
		if r := h.get(path); r.status != 200 {
			t.Fatal(r.status)
		}
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Fatalf("latency not honoured: %v", d)
		}
		// token endpoint uses TokenLatency instead
		start = time.Now()
		h.login()
		if d := time.Since(start); d > 70*time.Millisecond {
			t.Fatalf("token should not get Latency: %v", d)
		}
		h.sim.SetFaults(Faults{TokenLatency: 60 * time.Millisecond})
		start = time.Now()
		h.login()
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Fatalf("TokenLatency not honoured: %v", d)
		}
	})
	t.Run("latency cancellable", func(t *testing.T) {
		h.sim.SetFaults(Faults{Latency: 10 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", h.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+h.tok)
		start := time.Now()
		_, err := h.ts.Client().Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		h.sim.SetFaults(Faults{})
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		// the handler goroutine must have returned too: httptest.Server.Close waits for it
	})
	t.Run("burst", func(t *testing.T) {
		for _, st := range []int{500, 502, 503} {
			h.sim.SetFaults(Faults{BurstStatus: st, BurstCount: 2})
			h.login() // token calls are exempt from bursts
			for i := 0; i < 2; i++ {
				r := h.get(path)
				var e upstream.ExceptionInfo
				mustJSON(t, r.body, &e)
				if r.status != st || e.Message == "" {
					t.Fatalf("burst %d call %d: %d", st, i, r.status)
				}
			}
			if r := h.get(path); r.status != 200 {
				t.Fatalf("after burst: %d", r.status)
			}
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		h.sim.SetFaults(Faults{RateLimitCount: 2, RetryAfter: 1500 * time.Millisecond})
		r := h.do("POST", "/v6/token", form("grant_type", "password", "username", "admin", "password", "password"), formHdr)
		if r.status != 429 || r.header.Get("Retry-After") != "2" {
			t.Fatalf("token 429: %d %q", r.status, r.header.Get("Retry-After"))
		}
		r = h.get(path)
		if r.status != 429 || r.header.Get("Retry-After") != "2" {
			t.Fatalf("429: %d %q", r.status, r.header.Get("Retry-After"))
		}
		if r := h.get(path); r.status != 200 {
			t.Fatalf("after 429s: %d", r.status)
		}
	})
	t.Run("error rate", func(t *testing.T) {
		h.sim.SetFaults(Faults{ErrorRate: 1})
		if r := h.get(path); r.status != 500 {
			t.Fatalf("%d", r.status)
		}
		h.login() // token exempt
		h.sim.SetFaults(Faults{ErrorRate: 0.5})
		n500 := 0
		for i := 0; i < 200; i++ {
			if h.get(path).status == 500 {
				n500++
			}
		}
		if n500 < 50 || n500 > 150 {
			t.Fatalf("error rate 0.5 gave %d/200", n500)
		}
	})
	t.Run("down", func(t *testing.T) {
		h.sim.SetFaults(Faults{Down: true})
		for _, p := range []string{path, "/v6/Nope"} {
			if r := h.get(p); r.status != 503 {
				t.Fatalf("%s: %d", p, r.status)
			}
		}
		r := h.do("POST", "/v6/token", form("grant_type", "password", "username", "admin", "password", "password"), formHdr)
		if r.status != 503 || !strings.Contains(string(r.body), "down") {
			t.Fatalf("token while down: %d %s", r.status, r.body)
		}
		// control endpoints keep working
		if r := h.do("GET", "/_sim/stats", nil, nil); r.status != 200 {
			t.Fatalf("stats while down: %d", r.status)
		}
	})
	t.Run("control endpoint", func(t *testing.T) {
		r := h.do("PUT", "/_sim/faults", strings.NewReader(`{"burstStatus":502,"burstCount":1,"latency":"5ms"}`), nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		f := h.sim.CurrentFaults()
		if f.BurstStatus != 502 || f.BurstCount != 1 || f.Latency != 5*time.Millisecond {
			t.Fatalf("faults %+v", f)
		}
		if r := h.get(path); r.status != 502 {
			t.Fatalf("%d", r.status)
		}
		var got Faults
		mustJSON(t, h.do("GET", "/_sim/faults", nil, nil).body, &got)
		if got.BurstCount != 0 || got.Latency != 5*time.Millisecond {
			t.Fatalf("remaining %+v", got)
		}
		h.do("DELETE", "/_sim/faults", nil, nil)
		if h.sim.CurrentFaults() != (Faults{}) {
			t.Fatal("faults not cleared")
		}
	})
}

func TestLiveMutation(t *testing.T) {
	clk := &fakeClock{t: testNow.Add(time.Minute)}
	h := newHarness(t, Options{Sessions: 50, Clock: clk.Now})
	added := h.sim.AddSession(upstream.RestoreSession{Type: upstream.SessionTypeTeams, InitiatedBy: "CONTOSO\\admin", ClientHost: "203.0.113.9"})
	if added.ID == "" || added.State != upstream.SessionStateWorking || added.Result != upstream.SessionResultSuccess ||
		added.Name != "Veeam Explorer for Microsoft Teams" || added.Organization != h.sim.Organizations()[0].Name || added.EndTime != nil {
		t.Fatalf("added %+v", added)
	}
	var p upstream.Page[upstream.RestoreSession]
	h.getJSON("/v6/RestoreSessions?limit=1", &p)
	if p.Results[0].ID != added.ID || *p.TotalCount != 51 {
		t.Fatalf("newest session is %s, want the added one", p.Results[0].ID)
	}
	clk.Add(time.Second)
	ev, err := h.sim.AddEvent(added.ID, upstream.RestoreSessionEvent{ItemName: "General", ItemType: "Channel", Source: "Marketing\\General", Target: "Marketing\\General"})
	if err != nil || ev.Order != 1 || ev.ID == "" || ev.Type != upstream.EventTypeRestore {
		t.Fatalf("AddEvent %+v %v", ev, err)
	}
	var got upstream.RestoreSessionEvent
	h.getJSON("/v6/RestoreSessions/"+added.ID+"/Events/"+ev.ID, &got)
	if got.ItemName != "General" || got.Order != 1 {
		t.Fatalf("event via HTTP %+v", got)
	}
	clk.Add(time.Minute)
	if err := h.sim.StopSession(added.ID, upstream.SessionResultWarning); err != nil {
		t.Fatal(err)
	}
	var s upstream.RestoreSession
	h.getJSON("/v6/RestoreSessions/"+added.ID, &s)
	if s.State != upstream.SessionStateStopped || s.Result != upstream.SessionResultWarning || s.EndTime == nil || !s.EndTime.Equal(clk.Now()) {
		t.Fatalf("stopped %+v", s)
	}
	evs := h.sim.Events(added.ID)
	if len(evs) != 3 || evs[0].Type != upstream.EventTypeNone || evs[2].Type != upstream.EventTypeNone || evs[2].Order != 2 {
		t.Fatalf("events after stop: %+v", evs)
	}
	if err := h.sim.StopSession(added.ID, ""); !errors.Is(err, ErrStopped) {
		t.Fatalf("double stop: %v", err)
	}
	if _, err := h.sim.AddEvent(added.ID, upstream.RestoreSessionEvent{}); !errors.Is(err, ErrStopped) {
		t.Fatalf("add to stopped: %v", err)
	}
	if err := h.sim.StopSession("3f2504e0-4f89-41d3-9a0c-0305e82c3301", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stop unknown: %v", err)
	}

	// stopping a generated Working session finishes its Running item
	var working upstream.RestoreSession
	for _, s := range h.sim.Sessions() {
		if s.State == upstream.SessionStateWorking && s.ID != added.ID {
			working = s
			break
		}
	}
	before := h.sim.Events(working.ID)
	if before[len(before)-1].Status != upstream.EventStatusRunning {
		t.Fatalf("working session's last event is %s", before[len(before)-1].Status)
	}
	if err := h.sim.StopSession(working.ID, upstream.SessionResultFailed); err != nil {
		t.Fatal(err)
	}
	after := h.sim.Events(working.ID)
	if len(after) != len(before)+1 || after[len(before)-1].Status != upstream.EventStatusFailed || after[len(before)-1].EndTime == nil ||
		after[len(after)-1].Type != upstream.EventTypeNone {
		t.Fatalf("after stop: %d events, last item %+v", len(after), after[len(before)-1])
	}
	s, _ = h.sim.Session(working.ID)
	if s.State != upstream.SessionStateStopped || s.Result != upstream.SessionResultFailed || s.EndTime == nil {
		t.Fatalf("generated session after stop %+v", s)
	}

	// the same via the control endpoints
	r := h.do("POST", "/_sim/sessions", strings.NewReader(`{"type":"Veod","organization":"X Corp"}`), nil)
	var s2 upstream.RestoreSession
	mustJSON(t, r.body, &s2)
	if r.status != 201 || s2.Type != upstream.SessionTypeOneDrive || s2.Organization != "X Corp" {
		t.Fatalf("POST /_sim/sessions: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/_sim/sessions/"+s2.ID+"/events", strings.NewReader(`{"itemName":"a.docx","status":"Running"}`), nil); r.status != 201 {
		t.Fatalf("add event: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/_sim/sessions/"+s2.ID+"/stop?result=Failed", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"Failed"`) {
		t.Fatalf("stop: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/_sim/sessions/"+s2.ID+"/stop", nil, nil); r.status != 409 {
		t.Fatalf("stop again: %d %s", r.status, r.body)
	}
}

func TestDeterminism(t *testing.T) {
	mk := func(seed int64, name string) *Server {
		return New(Options{Seed: seed, Name: name, Now: testNow, Sessions: 200, Orgs: 12})
	}
	dump := func(s *Server) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.Encode(s.Organizations())
		ss := s.Sessions()
		enc.Encode(ss)
		for _, x := range ss {
			enc.Encode(s.Events(x.ID))
		}
		return b.String()
	}
	a, b := mk(7, "sim1"), mk(7, "sim1")
	if dump(a) != dump(b) {
		t.Fatal("same seed and name produced different data")
	}
	// events are regenerated per request: repeated reads are identical
	sid := a.Sessions()[5].ID
	if !reflect.DeepEqual(a.Events(sid), a.Events(sid)) {
		t.Fatal("events not stable")
	}
	for _, other := range []*Server{mk(7, "sim2"), mk(8, "sim1")} {
		ida, namesA := map[string]bool{}, map[string]bool{}
		for _, o := range a.Organizations() {
			ida[o.ID], namesA[o.Name] = true, true
		}
		sameID, sameName := 0, 0
		for _, o := range other.Organizations() {
			if ida[o.ID] {
				sameID++
			}
			if namesA[o.Name] {
				sameName++
			}
		}
		if sameID != 0 || sameName == len(namesA) {
			t.Fatalf("different name/seed: %d shared org ids, %d/%d shared names", sameID, sameName, len(namesA))
		}
		if other.Sessions()[0].ID == a.Sessions()[0].ID {
			t.Fatal("sessions identical")
		}
	}
}

// TestGeneratedDataRealism checks invariants of the generated sessions and events.
func TestGeneratedDataRealism(t *testing.T) {
	s := New(Options{Seed: 3, Now: testNow})
	types, results, states := map[upstream.RestoreSessionType]int{}, map[upstream.RestoreSessionResult]int{}, map[upstream.RestoreSessionState]int{}
	hosts := map[string]int{}
	for _, rs := range s.Sessions() {
		types[rs.Type]++
		results[rs.Result]++
		states[rs.State]++
		switch {
		case rs.ClientHost == "":
			hosts["empty"]++
		case strings.Contains(rs.ClientHost, "(via: "):
			hosts["via"]++
		case strings.Contains(rs.ClientHost, ":"):
			hosts["ipv6"]++
		case strings.Count(rs.ClientHost, ".") == 3:
			hosts["ipv4"]++
		default:
			hosts["name"]++
		}
		if rs.InitiatedBy == "" || rs.Organization == "" || !strings.HasPrefix(rs.Name, "Veeam Explorer for Microsoft ") {
			t.Fatalf("session %+v", rs)
		}
		evs := s.Events(rs.ID)
		end := testNow
		if rs.State == upstream.SessionStateStopped {
			if rs.EndTime == nil || rs.EndTime.Before(rs.CreationTime) {
				t.Fatalf("endTime %+v", rs)
			}
			end = *rs.EndTime
			if last := evs[len(evs)-1]; last.Type != upstream.EventTypeNone || !last.StartTime.Equal(end) {
				t.Fatalf("stopped session without stop marker")
			}
		} else if rs.EndTime != nil {
			t.Fatal("working session with endTime")
		}
		if len(evs) > 60 || evs[0].Type != upstream.EventTypeNone || evs[0].Title != "Restore session started" {
			t.Fatalf("events %d, first %+v", len(evs), evs[0])
		}
		hasStatus := map[upstream.RestoreEventStatus]bool{}
		for k, ev := range evs {
			hasStatus[ev.Status] = true
			if ev.Order != k || ev.StartTime.Before(rs.CreationTime) || ev.StartTime.After(end) || ev.Message == "" {
				t.Fatalf("event %d of %s: %+v", k, rs.ID, ev)
			}
			if ev.EndTime != nil && ev.EndTime.After(end) {
				t.Fatalf("event ends after session end")
			}
			if (ev.Status == upstream.EventStatusRunning) != (ev.EndTime == nil) {
				t.Fatalf("running/endTime mismatch %+v", ev)
			}
			if ev.Type != upstream.EventTypeNone && (ev.ItemName == "" || ev.Source == "") {
				t.Fatalf("item event without item %+v", ev)
			}
		}
		if rs.State == upstream.SessionStateWorking != hasStatus[upstream.EventStatusRunning] {
			t.Fatalf("working=%v but running event=%v", rs.State, hasStatus[upstream.EventStatusRunning])
		}
		if rs.Result == upstream.SessionResultFailed && !hasStatus[upstream.EventStatusFailed] {
			t.Fatal("failed session without failed event")
		}
	}
	if len(types) != 4 || len(results) != 3 || states[upstream.SessionStateWorking] == 0 || states[upstream.SessionStateWorking] > 10 {
		t.Fatalf("distribution: %v %v %v", types, results, states)
	}
	for _, k := range []string{"empty", "via", "ipv6", "ipv4", "name"} {
		if hosts[k] == 0 {
			t.Fatalf("no clientHost of kind %s: %v", k, hosts)
		}
	}
	if results[upstream.SessionResultSuccess] < 300 {
		t.Fatalf("results %v", results)
	}
}

func TestLargeSessionEvents(t *testing.T) {
	h := newHarness(t, Options{Sessions: 30})
	var sid string
	for _, s := range h.sim.Sessions() {
		if s.State == upstream.SessionStateStopped {
			sid = s.ID
			break
		}
	}
	h.sim.SetLargeSession(sid, 10000)
	seen := map[string]bool{}
	var last upstream.RestoreSessionEvent
	path := "/v6/RestoreSessions/" + sid + "/Events?limit=1000"
	for pages := 0; path != ""; pages++ {
		var p upstream.Page[upstream.RestoreSessionEvent]
		h.getJSON(path, &p)
		if *p.TotalCount != 10000 {
			t.Fatalf("totalCount %d", *p.TotalCount)
		}
		for _, ev := range p.Results {
			if ev.Order != len(seen) || seen[ev.ID] {
				t.Fatalf("order %d at position %d (dup=%v)", ev.Order, len(seen), seen[ev.ID])
			}
			if ev.StartTime.Before(last.StartTime) {
				t.Fatalf("event %d starts before event %d", ev.Order, last.Order)
			}
			seen[ev.ID] = true
			last = ev
		}
		path = p.Links["next"].Href
		if path == "" && len(p.Results) == 1000 && len(seen) < 10000 {
			t.Fatal("missing next link")
		}
	}
	if len(seen) != 10000 || last.Type != upstream.EventTypeNone || last.Title != "Restore session stopped" {
		t.Fatalf("%d events, last %+v", len(seen), last)
	}
	// one page of 10000, and a lookup by id of the last event
	var p upstream.Page[upstream.RestoreSessionEvent]
	h.getJSON("/v6/RestoreSessions/"+sid+"/Events?limit=10000", &p)
	if len(p.Results) != 10000 || p.Links["next"].Href != "" {
		t.Fatalf("single page: %d", len(p.Results))
	}
	var ev upstream.RestoreSessionEvent
	h.getJSON("/v6/RestoreSessions/"+sid+"/Events/"+last.ID, &ev)
	if ev.Order != 9999 {
		t.Fatalf("lookup: %+v", ev)
	}
}

func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test skipped in -short mode")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	s := New(Options{Seed: 1, Name: "big", Now: testNow, Orgs: 10000, Sessions: 1_000_000})
	built := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("built 10,000 orgs + 1,000,000 sessions in %v, live heap +%d MB", built, (after.HeapAlloc-before.HeapAlloc)>>20)
	if mb := (after.HeapAlloc - before.HeapAlloc) >> 20; mb > 400 {
		t.Errorf("heap grew by %d MB", mb)
	}
	names := map[string]bool{}
	domains := map[string]bool{}
	for _, o := range s.Organizations() {
		names[o.Name], domains[o.OfficeName] = true, true
	}
	if len(names) != 10000 || len(domains) != 10000 {
		t.Fatalf("%d distinct names, %d distinct domains", len(names), len(domains))
	}
	ts := harnessFor(t, s)
	var p upstream.Page[upstream.RestoreSession]
	ts.getJSON("/v6/RestoreSessions?offset=999990&limit=30", &p)
	if len(p.Results) != 10 || *p.TotalCount != 1_000_000 || p.Links["next"].Href != "" {
		t.Fatalf("last page: %d results", len(p.Results))
	}
	ts.getJSON("/v6/RestoreSessions?startTimeFrom=2026-11-19T00:00:00Z&startTimeTo=2026-11-19T01:00:00Z&limit=10000", &p)
	if n := *p.TotalCount; n < 200 || n > 800 {
		t.Fatalf("one hour holds %d of 1M sessions", n)
	}
	var ev upstream.Page[upstream.RestoreSessionEvent]
	ts.getJSON("/v6/RestoreSessions/"+p.Results[0].ID+"/Events", &ev)
	if len(ev.Results) == 0 {
		t.Fatal("no events")
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var ms runtime.MemStats
			for i := 0; i < b.N; i++ {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				h0 := ms.HeapAlloc
				s := New(Options{Seed: int64(i), Now: testNow, Orgs: 10000, Sessions: n})
				runtime.GC()
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapAlloc-h0)/(1<<20), "heapMB")
				runtime.KeepAlive(s)
			}
		})
	}
}

func BenchmarkSessionsPage(b *testing.B) {
	s := New(Options{Seed: 1, Now: testNow, Sessions: 1_000_000, Orgs: 1000})
	req, _ := http.NewRequest("GET", "/v6/RestoreSessions?offset=500000&limit=100", nil)
	w := &discard{h: http.Header{}}
	tok := tokenFor(b, s)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.ServeHTTP(w, req)
	}
}

type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(s int)           { d.status = s }

func tokenFor(tb testing.TB, s *Server) string {
	req, _ := http.NewRequest("POST", "/"+s.APIVersion()+"/token", strings.NewReader("grant_type=password&username=admin&password=password"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := &recorder{h: http.Header{}}
	s.ServeHTTP(rec, req)
	var tok upstream.Token
	if err := json.Unmarshal(rec.body, &tok); err != nil {
		tb.Fatal(err)
	}
	return tok.AccessToken
}

type recorder struct {
	h    http.Header
	body []byte
}

func (d *recorder) Header() http.Header         { return d.h }
func (d *recorder) Write(b []byte) (int, error) { d.body = append(d.body, b...); return len(b), nil }
func (d *recorder) WriteHeader(int)             {}
