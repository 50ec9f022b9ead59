package vbosim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// TestGeneratedDataPinned pins the simulator's generated data byte for byte: for a few seeds
// and every API version, the JSON of the organisations and of each organisation's sessions and
// their events hashes to the value recorded when the generator was last changed on purpose.
// Besides plain generation it covers a generated Working session stopped at run time, a
// session made large and an added session with generated events. A refactor of the generator
// must leave these hashes alone; a deliberate change to the data updates them.
func TestGeneratedDataPinned(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"seed=1/v6":  "7cf58cb3f3495b5ba4deb23a56d41a8e42d6dbbc7c6d5abc3422f45185fbdcb7",
		"seed=1/v7":  "14eedeeeb9722e9db0c8058c3e6751819d22f544b65f5bddc82e2ae3512a6c34",
		"seed=1/v8":  "49146f992966ec79b352a2f2de39c0447dc5e3cf7cf76627a3fa8c449a9b5694",
		"seed=7/v6":  "e1741f7ae548cfdf6f16146bf4809a05382e85827a491845e05a768a9d06c21f",
		"seed=7/v7":  "ca26192937d30fc5a5052a95ecbb82ed884be4659f22457ddf72d575176fc4e7",
		"seed=7/v8":  "5cdb376bd190bb06120020494e1f140fbd6cf7320c99d3681d06cc0c23a9db2d",
		"seed=42/v6": "91e2f4d0469332eb6d7b71fe1d8440555e836a2cc59fe241703035a64c3ca3c8",
		"seed=42/v7": "31972fc080ffd27263fa08dc5b121aeb6401683d694b1b5a87befc945ffccf76",
		"seed=42/v8": "d8e0e67c249341b31dfb5a3a90fb5aba70c9b1d0a1ea6ff25babd7fbca421d4a",
	}
	for _, seed := range []int64{1, 7, 42} {
		for _, ver := range []string{"v6", "v7", "v8"} {
			name := fmt.Sprintf("seed=%d/%s", seed, ver)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				got := generatedDataHash(t, seed, ver)
				if got != want[name] {
					t.Errorf("generated data hash = %q, want %q", got, want[name])
				}
			})
		}
	}
}

// generatedDataHash builds a simulator, applies a fixed set of run-time changes and hashes the
// JSON of its organisations, then of every organisation's sessions with their events.
func generatedDataHash(t *testing.T, seed int64, ver string) string {
	t.Helper()
	clock := func() time.Time { return testNow.Add(-time.Minute) }
	s := New(Options{APIVersion: ver, Seed: seed, Now: testNow, Clock: clock, Orgs: 10, Sessions: 400})
	sessions := s.Sessions()
	stopped := false
	for _, rs := range sessions {
		if rs.State == upstream.SessionStateWorking {
			mustNil(t, s.StopSession(rs.ID, upstream.SessionResultFailed))
			stopped = true
			break
		}
	}
	if !stopped {
		t.Fatal("no Working session to stop")
	}
	s.SetLargeSession(sessions[len(sessions)/2].ID, 1500)
	added := s.AddSession(upstream.RestoreSession{Organization: s.Organizations()[1].Name, Type: upstream.SessionTypeTeams})
	s.SetLargeSession(added.ID, 40)

	h := sha256.New()
	enc := json.NewEncoder(h)
	orgs := s.Organizations()
	mustNil(t, enc.Encode(orgs))
	sessions = s.Sessions()
	for _, o := range orgs {
		for _, rs := range sessions {
			if rs.Organization != o.Name {
				continue
			}
			mustNil(t, enc.Encode(rs))
			mustNil(t, enc.Encode(s.Events(rs.ID)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestSimControlAnswers pins every /_sim control endpoint's answer (status, Allow and
// Content-Type headers and the exact body, hashed) for each path and method, on a fresh
// simulator per row. {working}, {stopped} and {unknown} in a path stand for a generated Working
// session, a generated stopped one and a well-formed id that no session has.
func TestSimControlAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path, body string
		status             int
		allow              string
		contains           string // a readable part of the body
		bodyHash           string // sha256 of the body, first 16 hex digits
	}{
		{"GET", "/_sim/stats", "", 200, "", `"total":0`, "ccf2023942901e0e"},
		{"DELETE", "/_sim/stats", "", 200, "", `"total":0`, "ccf2023942901e0e"},
		{"POST", "/_sim/stats", "", 405, "GET, DELETE", "method not allowed", "58f347ba7e718f95"},
		{"PUT", "/_SIM/Stats/", "", 405, "GET, DELETE", "method not allowed", "58f347ba7e718f95"},
		{"HEAD", "/_sim/stats", "", 405, "GET, DELETE", "method not allowed", "58f347ba7e718f95"},
		{"GET", "/_sim/stats/extra", "", 404, "", "unknown /_sim endpoint", "201d71ae269ae120"},

		{"GET", "/_sim/faults", "", 200, "", "{", "ca3d163bab055381"},
		{"PUT", "/_sim/faults", `{"burstStatus":502,"burstCount":1,"latency":"5ms"}`, 200, "", `"latency":"5ms"`, "79d42e071f888974"},
		{"PUT", "/_sim/faults", `{"latency":`, 400, "", "invalid faults JSON: ", "0bc96d034820e0f0"},
		{"PUT", "/_sim/faults", "", 400, "", "invalid faults JSON: EOF", "d6abe4c57676c822"},
		{"DELETE", "/_sim/faults", "", 200, "", "{", "ca3d163bab055381"},
		{"POST", "/_sim/faults", "", 405, "GET, PUT, DELETE", "method not allowed", "58f347ba7e718f95"},

		{"POST", "/_sim/sessions", `{"type":"Veod","organization":"X Corp"}`, 201, "", `"type":"Veod"`, "dbec1e4179c90526"},
		{"POST", "/_sim/sessions", "", 201, "", `"state":"Working"`, "11b1b97a705a2bb0"},
		{"POST", "/_sim/sessions", `{"type":`, 400, "", "invalid session JSON: ", "cd6d18e9af72f00c"},
		{"GET", "/_sim/sessions", "", 405, "POST", "method not allowed", "58f347ba7e718f95"},

		{"DELETE", "/_sim/sessions/{stopped}", "", 204, "", "", "e3b0c44298fc1c14"},
		{"DELETE", "/_sim/sessions/{unknown}", "", 404, "", "", "d72460e9b9b59904"},
		{"DELETE", "/_sim/sessions/not-a-uuid", "", 404, "", "", "d72460e9b9b59904"},
		{"GET", "/_sim/sessions/{stopped}", "", 405, "DELETE", "method not allowed", "58f347ba7e718f95"},
		{"POST", "/_sim/sessions/{stopped}", "", 405, "DELETE", "method not allowed", "58f347ba7e718f95"},

		{"POST", "/_sim/sessions/{working}/events", `{"itemName":"a.docx","status":"Running"}`, 201, "", `"itemName":"a.docx"`, "e46bd2d9616e7c4c"},
		{"POST", "/_sim/sessions/{working}/events", "", 201, "", `"id":`, "307cafc4a8ac53b7"},
		{"POST", "/_sim/sessions/{stopped}/events", `{"itemName":"a.docx"}`, 409, "", "", "ec0d8e0218f5d53c"},
		{"POST", "/_sim/sessions/{working}/events", `{"itemName":`, 400, "", "invalid event JSON: ", "ea6a879c0cde4ff9"},
		{"POST", "/_sim/sessions/{unknown}/events", `{"itemName":`, 400, "", "invalid event JSON: ", "ea6a879c0cde4ff9"},
		{"POST", "/_sim/sessions/{unknown}/events", `{}`, 404, "", "", "d72460e9b9b59904"},
		{"GET", "/_sim/sessions/{working}/events", "", 405, "POST", "method not allowed", "58f347ba7e718f95"},

		{"POST", "/_sim/sessions/{working}/stop", "", 200, "", `"state":"Stopped"`, "81e43f7208e241a4"},
		{"POST", "/_sim/sessions/{working}/stop?result=Failed", "", 200, "", `"result":"Failed"`, "b8eae209890969db"},
		{"POST", "/_sim/sessions/{working}/stop?result=Bogus", "", 200, "", `"result":"Bogus"`, "78e927165ffedd25"},
		{"POST", "/_sim/sessions/{stopped}/stop", "", 409, "", "", "ec0d8e0218f5d53c"},
		{"POST", "/_sim/sessions/{unknown}/stop", "", 404, "", "", "d72460e9b9b59904"},
		{"PUT", "/_sim/sessions/{working}/stop", "", 405, "POST", "method not allowed", "58f347ba7e718f95"},

		{"POST", "/_sim/sessions/{stopped}/large?events=5", "", 200, "", `"state":"Stopped"`, "e3d90c0dbc463ed8"},
		{"POST", "/_sim/sessions/{working}/large?events=1", "", 200, "", `"state":"Working"`, "9147385f6bd858cd"},
		{"POST", "/_sim/sessions/{working}/large?events=0", "", 400, "", "events must be a positive integer", "de7e28452b950458"},
		{"POST", "/_sim/sessions/{working}/large?events=x", "", 400, "", "events must be a positive integer", "de7e28452b950458"},
		{"POST", "/_sim/sessions/{working}/large", "", 400, "", "events must be a positive integer", "de7e28452b950458"},
		{"POST", "/_sim/sessions/{unknown}/large?events=0", "", 400, "", "events must be a positive integer", "de7e28452b950458"},
		{"POST", "/_sim/sessions/{unknown}/large?events=5", "", 404, "", "", "d72460e9b9b59904"},
		{"GET", "/_sim/sessions/{working}/large?events=5", "", 405, "POST", "method not allowed", "58f347ba7e718f95"},

		{"POST", "/_sim/sessions/{working}/other", "", 404, "", "unknown /_sim endpoint", "201d71ae269ae120"},
		{"GET", "/_sim/sessions/{working}/other", "", 405, "POST", "method not allowed", "58f347ba7e718f95"},
		{"POST", "/_sim/sessions/{working}/events/more", "", 404, "", "unknown /_sim endpoint", "201d71ae269ae120"},
		{"GET", "/_sim/", "", 404, "", "unknown /_sim endpoint", "201d71ae269ae120"},
		{"GET", "/_sim/nothing", "", 404, "", "unknown /_sim endpoint", "201d71ae269ae120"},
		{"POST", "/_sim/events", "", 404, "", "unknown /_sim endpoint", "201d71ae269ae120"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			s := New(Options{Seed: 42, Now: testNow, Clock: func() time.Time { return testNow }, Orgs: 3, Sessions: 300})
			path := strings.NewReplacer(
				"{working}", firstSessionIn(t, s, upstream.SessionStateWorking),
				"{stopped}", firstSessionIn(t, s, upstream.SessionStateStopped),
				"{unknown}", "00000000-0000-4000-8000-000000000000",
			).Replace(tc.path)
			req := httptest.NewRequest(tc.method, path, strings.NewReader(tc.body))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			res := rec.Result()
			got := rec.Body.String()
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d (body %s)", res.StatusCode, tc.status, got)
			}
			if a := res.Header.Get("Allow"); a != tc.allow {
				t.Errorf("Allow = %q, want %q", a, tc.allow)
			}
			if ct := res.Header.Get("Content-Type"); ct != contentTypeJSON {
				t.Errorf("Content-Type = %q, want %q", ct, contentTypeJSON)
			}
			if !strings.Contains(got, tc.contains) {
				t.Errorf("body %s does not contain %q", got, tc.contains)
			}
			sum := sha256.Sum256([]byte(got))
			if h := hex.EncodeToString(sum[:8]); h != tc.bodyHash {
				t.Errorf("body hash = %q, want %q (body %s)", h, tc.bodyHash, got)
			}
		})
	}
}

// firstSessionIn is the id of the newest generated session in the given state.
func firstSessionIn(t *testing.T, s *Server, state upstream.RestoreSessionState) string {
	t.Helper()
	for _, rs := range s.Sessions() {
		if rs.State == state {
			return rs.ID
		}
	}
	t.Fatalf("no %s session", state)
	return ""
}
