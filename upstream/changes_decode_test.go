package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestChangesHostileAnswers: what a broken or hostile server sends on the change feed is a
// clear error or left out, never a crash, an unbounded list or an event the watcher cannot act on.
func TestChangesHostileAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		body    string
		limit   int
		wantErr error  // errors.Is; nil with errMsg "" means success
		errMsg  string // substring of the error
		ids     []string
		ignored int
	}{
		{name: "other kinds are left out",
			body: `{"nextChangeToken":"t1","limit":30,"results":[
				{"eventType":"JobSessionUpdate","id":"j1","jobId":"j","status":"Running"},
				{"eventType":"RestoreSessionUpdate","id":"s1","eTag":3,"organizationId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"},
				{"eventType":"RestorePointDelete","id":"r1"},
				{"eventType":"RestoreSessionDelete","id":"s2","eTag":9,"organizationId":"x"}]}`,
			ids: []string{"s1", "s2"}, ignored: 2},
		{name: "events without a usable id are left out",
			body: `{"nextChangeToken":"t1","results":[{"eventType":"RestoreSessionUpdate"},{"eventType":"RestoreSessionDelete","id":""},
				{"eventType":"RestoreSessionUpdate","id":" s1"},{"eventType":"RestoreSessionUpdate","id":"` + strings.Repeat("a", maxChangeID+1) + `"},
				{"eventType":"restoresessionupdate","id":"s3"},{"eventType":"RestoreSessionUpdate","id":"s4"}]}`,
			ids: []string{"s4"}, ignored: 5},
		{name: "empty", body: `{"nextChangeToken":"t1","limit":30,"results":[]}`, ids: []string{}},
		{name: "no token", body: `{"limit":30,"results":[]}`, errMsg: "no nextChangeToken"},
		{name: "null token", body: `{"nextChangeToken":null,"results":[]}`, errMsg: "no nextChangeToken"},
		{name: "huge token", body: `{"nextChangeToken":"` + strings.Repeat("t", maxChangeToken+1) + `","results":[]}`, errMsg: "longer than"},
		{name: "more results than asked", limit: 2,
			body:    `{"nextChangeToken":"t1","results":[` + strings.TrimSuffix(strings.Repeat(`{"eventType":"RestoreSessionDelete","id":"s"},`, 2+pageMargin+1), ",") + `]}`,
			wantErr: ErrTooManyItems},
		{name: "not JSON", body: `<html>`, errMsg: "decode response body"},
		{name: "results not a list", body: `{"nextChangeToken":"t1","results":{}}`, errMsg: "decode response body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVBO(t, APIv8)
			f.handle("/v8/Events", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				fmt.Fprint(w, tc.body)
			})
			c := f.client(t, ClientOptions{APIVersion: APIv8})
			p, err := c.Changes(context.Background(), ChangesLatest, tc.limit, 0)
			switch {
			case tc.wantErr != nil || tc.errMsg != "":
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.errMsg) {
					t.Fatalf("err %v, want %v / %q", err, tc.wantErr, tc.errMsg)
				}
				var e *Error
				if !errors.As(err, &e) || e.Server != "syd1" {
					t.Fatalf("err %v is not the server's *Error", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var ids []string
			for _, ev := range p.Results {
				ids = append(ids, ev.ID)
				if ev.Type == ChangeRestoreSessionDelete && (ev.ETag != 0 || ev.OrganizationID != "") {
					t.Errorf("a delete carries %+v", ev)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.ids) || p.Ignored != tc.ignored || p.NextChangeToken != "t1" {
				t.Fatalf("ids %v (%d ignored, token %q), want %v (%d ignored)", ids, p.Ignored, p.NextChangeToken, tc.ids, tc.ignored)
			}
		})
	}
}

// TestChangesQuery: the call sends from, limit and timeoutSeconds (whole seconds, rounded up,
// at most MaxChangesWait) as VBO names them.
func TestChangesQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit   int
		timeout time.Duration
		want    string
	}{
		{0, 0, "from=tok%2B%2F%3D"},
		{5, time.Millisecond, "from=tok%2B%2F%3D&limit=5&timeoutSeconds=1"},
		{10000, 25 * time.Second, "from=tok%2B%2F%3D&limit=10000&timeoutSeconds=25"},
		{0, time.Hour, "from=tok%2B%2F%3D&timeoutSeconds=300"},
	} {
		f := newFakeVBO(t, APIv8)
		got := make(chan string, 1)
		f.handle("/v8/Events", func(w http.ResponseWriter, r *http.Request) {
			got <- r.URL.RawQuery
			fmt.Fprint(w, `{"nextChangeToken":"t","results":[]}`)
		})
		c := f.client(t, ClientOptions{APIVersion: APIv8})
		// the fake answers at once: no test waits for the timeout
		if _, err := c.Changes(context.Background(), "tok+/=", tc.limit, tc.timeout); err != nil {
			t.Fatal(err)
		}
		if q := <-got; q != tc.want {
			t.Errorf("limit %d timeout %s: query %q, want %q", tc.limit, tc.timeout, q, tc.want)
		}
	}
}

// FuzzDecodeChanges: whatever a server sends as a change page, the bounded decoder returns (no
// panic, no hang), holds at most its bound, and what Changes keeps is only restore session
// events with a usable id, the rest counted.
func FuzzDecodeChanges(f *testing.F) {
	for _, seed := range []string{
		`{"nextChangeToken":"AAAA","limit":30,"results":[{"eventType":"RestoreSessionUpdate","id":"a","eTag":2,"organizationId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"},{"eventType":"RestoreSessionDelete","id":"b"}]}`,
		`{"nextChangeToken":"x","results":[{"eventType":"JobUpdate","id":"j"},{},{"eventType":1}]}`,
		`{"NEXTCHANGETOKEN":"x","RESULTS":[{"EVENTTYPE":"RestoreSessionUpdate","ID":"a"}]}`,
		`{"results":null}`,
		`{"results":[{"eTag":"1"}]}`,
		`{"_links":{"a":{"href":"x"}},"setId":"s","limit":-1}`,
		`null`,
		`[`,
	} {
		f.Add([]byte(seed))
	}
	const limit = 2
	f.Fuzz(func(t *testing.T, body []byte) {
		var p ChangePage
		dec := changesOf(&p, limit)
		err := dec.decodeStream(newDecoder(bytes.NewReader(body)))
		if len(p.Results) > dec.max {
			t.Fatalf("%d results decoded past the bound of %d (err %v)", len(p.Results), dec.max, err)
		}
		if err != nil {
			return
		}
		n := len(p.Results)
		p.keepRestoreSessionEvents()
		if len(p.Results)+p.Ignored != n {
			t.Fatalf("%d kept + %d ignored of %d decoded", len(p.Results), p.Ignored, n)
		}
		for _, ev := range p.Results {
			if (ev.Type != ChangeRestoreSessionUpdate && ev.Type != ChangeRestoreSessionDelete) || ev.ID == "" || len(ev.ID) > maxChangeID {
				t.Fatalf("kept %+v", ev)
			}
		}
	})
}
