package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestExploreRequestPerVersion(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 24, 13, 30, 0, 0, time.FixedZone("AEDT", 11*3600))
	tests := []struct {
		name, version string
		status        int
		opts          ExploreOptions
		wantPath      string
		wantBody      string
	}{
		{"v6 latest", APIv6, 200, ExploreOptions{Type: ExploreExchange},
			"/vbo-base/v6/Organizations/org%201/explore", `{"type":"Vex","showDeleted":false,"showAllVersions":false}`},
		{"v6 never sends repositoryId", APIv6, 200,
			ExploreOptions{Type: ExploreOneDrive, DateTime: &at, ShowDeleted: true, RepositoryID: "r1"},
			"/vbo-base/v6/Organizations/org%201/explore",
			`{"type":"Veod","dateTime":"2026-11-24T02:30:00Z","showDeleted":true,"showAllVersions":false}`},
		{"v8 sends repositoryId", APIv8, 201,
			ExploreOptions{Type: ExploreTeams, ShowAllVersions: true, RepositoryID: "r1"},
			"/vbo-base/v8/Organizations/org%201/explore", `{"type":"Vet","showDeleted":false,"showAllVersions":true,"repositoryId":"r1"}`},
		{"v8 without repository", APIv8, 201, ExploreOptions{Type: ExploreSharePoint, DateTime: &at},
			"/vbo-base/v8/Organizations/org%201/explore", `{"type":"Vesp","dateTime":"2026-11-24T02:30:00Z","showDeleted":false,"showAllVersions":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRestoreVBO(t, replyJSON(tt.status, sessionJSON))
			s, resp, err := f.client(t, tt.version, ClientOptions{}).Explore(context.Background(), "org 1", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || s.ID != "6f0ec0b1-5d1a-4a6e-9d2b-0c7a1f2e3d4c" || s.State != SessionStateWorking {
				t.Errorf("got %d %+v", resp.StatusCode, s)
			}
			req := f.only(t)
			if req.Method != http.MethodPost || req.Path != tt.wantPath || req.Query != "" {
				t.Errorf("request %s %s?%s, want POST %s", req.Method, req.Path, req.Query, tt.wantPath)
			}
			if req.ContentType != "application/json" {
				t.Errorf("content type %q", req.ContentType)
			}
			sameJSON(t, req.Body, tt.wantBody)
		})
	}
}

func TestStopRestoreSessionPerVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		version string
		status  int
	}{{APIv6, 200}, {APIv8, 204}, {APIv8, 200}} {
		t.Run(fmt.Sprint(tt.version, tt.status), func(t *testing.T) {
			t.Parallel()
			f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(tt.status) })
			resp, err := f.client(t, tt.version, ClientOptions{}).StopRestoreSession(context.Background(), "s/1")
			if err != nil {
				t.Fatal(err)
			}
			req := f.only(t)
			if resp.StatusCode != tt.status || req.Method != http.MethodPost || req.Path != "/vbo-base/"+tt.version+"/RestoreSessions/s%2F1/Stop" || len(req.Body) != 0 {
				t.Errorf("got %d for %s %s body %q", resp.StatusCode, req.Method, req.Path, req.Body)
			}
		})
	}
}

func TestStatisticsV8AndUnsupportedOnV6(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, replyJSON(200, `{"totalItemsCount":10,"restoredItemsCount":7,"failedItemsCount":2,
		"skippedItemsCount":1,"warnings":["w1"],"errors":["e1","e2"],"items":[{"id":"i1","itemRestoreDetailsType":"Mailbox"}]}`))
	st, _, err := f.client(t, APIv8, ClientOptions{}).RestoreSessionStatistics(context.Background(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := RestoreStatistics{Total: 10, Restored: 7, Failed: 2, Skipped: 1, Warnings: []string{"w1"}, Errors: []string{"e1", "e2"}}
	if fmt.Sprint(*st) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", *st, want)
	}
	if req := f.only(t); req.Method != http.MethodGet || req.Path != "/vbo-base/v8/RestoreSessions/s1/Statistics" {
		t.Errorf("request %s %s", req.Method, req.Path)
	}
	for _, v := range []string{APIv6, APIv7} {
		f6 := newRestoreVBO(t, replyJSON(200, `{}`))
		_, _, err := f6.client(t, v, ClientOptions{}).RestoreSessionStatistics(context.Background(), "s1")
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err %v, want ErrUnsupported", v, err)
		}
		if n := len(f6.requests()); n != 0 {
			t.Errorf("%s: %d requests sent for an unsupported call", v, n)
		}
	}
}

// TestActionPostsAreNeverRetried: with a retry policy that retries GETs, a failed Explore or
// Stop is sent once, and its error says whether it may have reached VBO.
func TestActionPostsAreNeverRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   func(w http.ResponseWriter, r *http.Request, n int)
		outcome Outcome
		is      error
	}{
		{"503", replyJSON(503, `{"message":"busy"}`), OutcomeUnknown, ErrUnavailable},
		{"502", replyJSON(502, ``), OutcomeUnknown, ErrUnavailable},
		{"500", replyJSON(500, `{"message":"boom"}`), OutcomeUnknown, nil},
		{"connection reset", resetConnection, OutcomeUnknown, ErrUnavailable},
		{"429", replyJSON(429, `{"message":"slow down"}`), OutcomeRefused, ErrUnavailable},
		{"400", replyJSON(400, `{"message":"bad type"}`), OutcomeRefused, ErrBadRequest},
		{"404", replyJSON(404, `{"message":"no such organization"}`), OutcomeRefused, ErrNotFound},
		{"2xx unreadable", replyJSON(200, `{"id":`), OutcomeUnknown, nil},
	}
	calls := map[string]func(c *Client) error{
		"explore": func(c *Client) error {
			_, _, err := c.Explore(context.Background(), "o1", ExploreOptions{Type: ExploreExchange})
			return err
		},
		"stop": func(c *Client) error { _, err := c.StopRestoreSession(context.Background(), "s1"); return err },
	}
	for _, tt := range tests {
		for name, call := range calls {
			if name == "stop" && tt.name == "2xx unreadable" {
				continue // Stop reads no body
			}
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				f := newRestoreVBO(t, tt.reply)
				c := f.client(t, APIv8, ClientOptions{Retry: fastRetry})
				err := call(c)
				var ae *ActionError
				if !errors.As(err, &ae) || ae.Outcome != tt.outcome {
					t.Fatalf("err %v, want an *ActionError with outcome %s", err, tt.outcome)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Errorf("err %v does not hold an *Error", err)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("err %v is not %v", err, tt.is)
				}
				if MaybeApplied(err) != (tt.outcome == OutcomeUnknown) || errors.Is(err, ErrNotSent) {
					t.Errorf("MaybeApplied %v for outcome %s", MaybeApplied(err), tt.outcome)
				}
				if n := len(f.requests()); n != 1 {
					t.Errorf("sent %d times, want once", n)
				}
				if r := c.Stats().Retries; r != 0 {
					t.Errorf("%d retries", r)
				}
			})
		}
	}
}

func TestActionNotSentWhenTheBreakerIsOpen(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, replyJSON(500, `{"message":"boom"}`))
	c := f.client(t, APIv6, ClientOptions{Breaker: &BreakerSettings{Failures: 1, Cooldown: time.Hour}})
	if _, err := c.StopRestoreSession(context.Background(), "s1"); !MaybeApplied(err) {
		t.Fatalf("first stop: %v", err)
	}
	_, err := c.StopRestoreSession(context.Background(), "s1")
	if !errors.Is(err, ErrNotSent) || !errors.Is(err, ErrCircuitOpen) || MaybeApplied(err) {
		t.Fatalf("err %v, want not sent (circuit open)", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}
}

func TestActionNotSentWhenTheServerIsDown(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, replyJSON(200, sessionJSON))
	c := f.client(t, APIv6, ClientOptions{})
	if _, err := c.Token(context.Background()); err != nil { // a token first: the action's own connection fails
		t.Fatal(err)
	}
	f.srv.Close()
	c.CloseIdleConnections()
	_, _, err := c.Explore(context.Background(), "o1", ExploreOptions{Type: ExploreExchange})
	if !errors.Is(err, ErrNotSent) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want not sent and unavailable", err)
	}
}

func TestActionReauthenticatesOnceOn401(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			replyJSON(401, `{"message":"Authorization has been denied for this request."}`)(w, r, n)
			return
		}
		replyJSON(201, sessionJSON)(w, r, n)
	})
	c := f.client(t, APIv8, ClientOptions{})
	if _, _, err := c.Explore(context.Background(), "o1", ExploreOptions{Type: ExploreExchange}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 2 || string(reqs[0].Body) != string(reqs[1].Body) {
		t.Fatalf("want the same body twice, got %+v", reqs)
	}
}

func TestInvalidCallsSendNothing(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, replyJSON(200, `{}`))
	c := f.client(t, APIv8, ClientOptions{})
	ctx := context.Background()
	_, _, err1 := c.Explore(ctx, "", ExploreOptions{})
	_, err2 := c.StopRestoreSession(ctx, "")
	_, _, err3 := c.RestoreSessionStatistics(ctx, "")
	for i, err := range []error{err1, err2, err3} {
		if !errors.Is(err, ErrInvalidRef) {
			t.Errorf("call %d: err %v, want ErrInvalidRef", i, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestActionAfterA401: the one re-authentication of an action (post and the streamed save).
// A second 401 is VBO's refusal; a token grant that fails after the first 401 leaves the
// second attempt unsent, so the action is not sent (the first attempt was refused).
func TestActionAfterA401(t *testing.T) {
	t.Parallel()
	calls := map[string]func(c *Client) error{
		"explore": func(c *Client) error {
			_, _, err := c.Explore(context.Background(), "o1", ExploreOptions{Type: ExploreExchange})
			return err
		},
		"save": func(c *Client) error {
			d, err := c.SaveItems(context.Background(), "s1", ActionItems{
				Ref: BrowseRef{Kind: BrowseMailItems, ContainerID: "mb1"}, IDs: []string{"i1"}})
			if d != nil {
				d.Body.Close()
			}
			return err
		},
	}
	for _, tt := range []struct {
		name       string
		grantFails bool // every token grant after the first fails
		outcome    Outcome
		sends      int
	}{
		{"401 twice", false, OutcomeRefused, 2},
		{"401 then the token grant fails", true, OutcomeNotSent, 1},
	} {
		for name, call := range calls {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				var mu sync.Mutex
				grants, sends := 0, 0
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					w.Header().Set("Content-Type", "application/json")
					if strings.HasSuffix(r.URL.Path, "/token") {
						if grants++; grants > 1 && tt.grantFails {
							w.WriteHeader(http.StatusBadRequest)
							fmt.Fprint(w, `{"error":"invalid_grant"}`)
							return
						}
						fmt.Fprintf(w, `{"access_token":"tok%d","refresh_token":"ref","expires_in":3600}`, grants)
						return
					}
					sends++
					w.WriteHeader(http.StatusUnauthorized)
					fmt.Fprint(w, `{"message":"Authorization has been denied for this request."}`)
				}))
				t.Cleanup(srv.Close)
				c, err := NewClient(srv.URL+basePath, ClientOptions{APIVersion: APIv8, Username: "svc", Password: "pw"})
				if err != nil {
					t.Fatal(err)
				}
				err = call(c)
				var ae *ActionError
				if !errors.As(err, &ae) || ae.Outcome != tt.outcome {
					t.Fatalf("err %v, want an *ActionError with outcome %s", err, tt.outcome)
				}
				if MaybeApplied(err) {
					t.Errorf("MaybeApplied(%v)", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if sends != tt.sends {
					t.Errorf("sent %d times, want %d", sends, tt.sends)
				}
			})
		}
	}
}

// TestSaveGoesThroughTheBreaker: the streamed save passes the same breaker as every call: a
// failed save counts towards opening it, and an open breaker leaves the next save unsent.
func TestSaveGoesThroughTheBreaker(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, replyJSON(500, `{"message":"boom"}`))
	c := f.client(t, APIv6, ClientOptions{Breaker: &BreakerSettings{Failures: 1, Cooldown: time.Hour}})
	save := func() error {
		d, err := c.SaveItems(context.Background(), "s1", ActionItems{
			Ref: BrowseRef{Kind: BrowseMailItems, ContainerID: "mb1"}, IDs: []string{"i1"}})
		if d != nil {
			d.Body.Close()
		}
		return err
	}
	if err := save(); !MaybeApplied(err) {
		t.Fatalf("first save: %v, want outcome unknown (500)", err)
	}
	if err := save(); !errors.Is(err, ErrNotSent) || !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("second save: %v, want not sent (circuit open)", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}
}
