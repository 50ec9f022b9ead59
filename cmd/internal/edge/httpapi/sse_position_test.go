package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
)

// sseEvent is one SSE event as a client reads it.
type sseEvent struct {
	id   string
	data struct {
		Data struct {
			S struct{ UpstreamID string } `json:"restoreSessionStarted"`
		}
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
		Extensions struct{ Position string }
	}
}

// readSSE posts query (with Last-Event-ID when lastID is set) and reads the stream's events
// until it completes.
func readSSE(t *testing.T, url, query, lastID string) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatal(err)
			}
		case line == "event: complete":
			return out
		case line == "" && (cur.id != "" || cur.data.Data.S.UpstreamID != "" || cur.data.Errors != nil):
			out = append(out, cur)
			cur = sseEvent{}
		}
	}
	t.Fatalf("stream ended without complete: %v", sc.Err())
	return nil
}

func upstreamIDs(evs []sseEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.data.Data.S.UpstreamID[len(e.data.Data.S.UpstreamID)-2:])
	}
	return out
}

// TestSSEPositionResume (issue 22 item 1): every SSE event carries its resume position as its
// id and in extensions.position; a client reconnecting with Last-Event-ID, or subscribing with
// after, continues exactly after that event (and Last-Event-ID wins over the query's own
// arguments, which a reconnecting client repeats). A position that does not open, or one of
// another subscription field, is BAD_USER_INPUT.
func TestSSEPositionResume(t *testing.T) {
	t.Parallel()
	g := newStreamGateway(t, replayFeed{n: 6, end: true}, httpapi.Options{})
	const q = `subscription { restoreSessionStarted(since: "2000-01-01T00:00:00Z") { upstreamId } }`
	all := readSSE(t, g.url, q, "")
	if got := upstreamIDs(all); strings.Join(got, ",") != "00,01,02,03,04,05" {
		t.Fatalf("first subscription: %v", got)
	}
	for i, e := range all {
		if e.id == "" || e.id != e.data.Extensions.Position {
			t.Fatalf("event %d: id %q, extensions.position %q: want both, equal", i, e.id, e.data.Extensions.Position)
		}
	}
	third := all[2].id
	for _, tc := range []struct {
		name, query, lastID, want, code string
	}{
		{"Last-Event-ID", q, third, "03,04,05", ""},
		{"after", `subscription { restoreSessionStarted(after: "` + third + `") { upstreamId } }`, "", "03,04,05", ""},
		{"Last-Event-ID wins over after", `subscription { restoreSessionStarted(after: "` + all[0].id + `") { upstreamId } }`, third, "03,04,05", ""},
		{"after and since", `subscription { restoreSessionStarted(since: "2000-01-01T00:00:00Z", after: "` + third + `") { upstreamId } }`, "", "", "BAD_USER_INPUT"},
		{"forged", q, third[:len(third)-4] + "AAAA", "", "BAD_USER_INPUT"},
		{"not base64", q, "not a position!", "", "BAD_USER_INPUT"},
		{"another field's", `subscription { restoreSessionEnded(after: "` + third + `") { upstreamId } }`, "", "", "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := readSSE(t, g.url, tc.query, tc.lastID)
			if tc.code != "" {
				if len(evs) != 1 || len(evs[0].data.Errors) != 1 || evs[0].data.Errors[0].Extensions.Code != tc.code {
					t.Fatalf("got %+v, want one %s error", evs, tc.code)
				}
				return
			}
			if got := strings.Join(upstreamIDs(evs), ","); got != tc.want {
				t.Fatalf("resumed: %s, want %s", got, tc.want)
			}
		})
	}
}
