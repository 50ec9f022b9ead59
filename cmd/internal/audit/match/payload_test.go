package match

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// L9: planted strings are not copied whole into payloads. Every string is cut to
// MaxPayloadString (JSON escapes counted, on a rune boundary) with a marker naming its length,
// and the whole body stays within MaxPayloadBytes, listing fewer events when it must
// (matchedEvents still counts them all).
func TestPayloadBounded(t *testing.T) {
	t.Parallel()
	const big = 900 << 10
	tests := []struct {
		name  string
		fill  string // repeated to big bytes
		evs   int
		check func(t *testing.T, p *Payload, body []byte)
	}{
		{name: "plain text", fill: "a", evs: 100},
		{name: "escaped on encoding", fill: "<\"\x01", evs: 100},
		{name: "multibyte, cut on a rune boundary", fill: "ſ€😀", evs: 10},
		{name: "session only", fill: "x", evs: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			long := strings.Repeat(tt.fill, big/len(tt.fill)+1)[:big]
			if !utf8.ValidString(long) {
				long = strings.ToValidUTF8(long, "")
			}
			s := session(func(s *Session) {
				u := &s.Upstream
				u.Name, u.Details, u.Reason, u.ScopeName, u.InitiatedBy, u.ClientHost = long, long, long, long, long, long
				s.OrgName = long
			})
			evs := make([]upstream.RestoreSessionEvent, tt.evs)
			for i := range evs {
				evs[i] = upstream.RestoreSessionEvent{ID: fmt.Sprint("ev", i), Type: upstream.EventTypeExport, Message: long,
					Title: long, ItemName: long, ItemType: long, Source: long, Target: long, StartTime: sydneyDay}
			}
			body, err := NewPayload("wr_1", Definition{Name: long, On: Ended}, Ended, s, evs, sydneyDay).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("strings of %d bytes, %d events: a body of %d bytes", len(long), tt.evs, len(body))
			if len(body) > MaxPayloadBytes {
				t.Fatalf("payload is %d bytes, want at most %d", len(body), MaxPayloadBytes)
			}
			var got struct {
				Rule struct{ Name string }
				Data struct {
					Name, Details string
					Events        []struct{ Message string }
					MatchedEvents int
					ClientHost    struct{ Raw string }
					Organization  struct{ Name string }
				}
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("payload is not JSON: %v", err)
			}
			suffix := fmt.Sprintf("%s, %d bytes]", TruncatedMarker, len(long))
			for name, v := range map[string]string{"rule.name": got.Rule.Name, "name": got.Data.Name, "details": got.Data.Details,
				"clientHost.raw": got.Data.ClientHost.Raw, "organization.name": got.Data.Organization.Name} {
				if !strings.HasSuffix(v, suffix) || !strings.HasPrefix(long, strings.TrimSuffix(v, suffix)) || !utf8.ValidString(v) {
					t.Fatalf("%s is %d bytes ending %q, want a valid prefix of the original ending %q", name, len(v), v[max(0, len(v)-40):], suffix)
				}
			}
			if got.Data.MatchedEvents != tt.evs {
				t.Fatalf("matchedEvents = %d, want %d", got.Data.MatchedEvents, tt.evs)
			}
			if tt.evs > 0 && (len(got.Data.Events) == 0 || !strings.HasSuffix(got.Data.Events[0].Message, suffix)) {
				t.Fatalf("%d events listed, want some, cut", len(got.Data.Events))
			}
		})
	}
}

// Short strings and ordinary payloads are left exactly as they were.
func TestPayloadKeepsShortStrings(t *testing.T) {
	t.Parallel()
	s := session()
	body, err := NewPayload("wr_1", Definition{Name: "after hours", On: Started}, Started, s, nil, sydneyDay).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), TruncatedMarker) || !strings.Contains(string(body), `"name":"Veeam Explorer for Microsoft Exchange"`) {
		t.Fatalf("payload %s", body)
	}
	exact := strings.Repeat("a", MaxPayloadString)
	if clip(exact) != exact || clip(exact+"a") == exact+"a" {
		t.Fatal("clip's bound is off by one")
	}
}
