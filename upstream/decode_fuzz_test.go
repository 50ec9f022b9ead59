package upstream

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodePage: whatever a server sends, the bounded page decoder returns (no panic, no hang),
// never holds more results than its bound nor a session more links than maxLinks, and refuses
// too many results only once it holds the bound.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"offset":0,"limit":2,"results":[{"id":"a","type":"Vex","state":"Stopped","creationTime":"2026-11-26T03:44:22.5052438Z","_links":{"self":{"href":"/v6/RestoreSessions/a"}}}],"totalCount":1}`,
		`{"results":null}`,
		`{"RESULTS":[{}, {}, {}, {}]}`,
		`{"results":[{"_links":{"a":{"href":"x"},"a":{"href":"y"}}}]}`,
		`{"results":[1]}`,
		`null`,
		`[`,
		`{"results":[{"creationTime":"yesterday"}]}`,
	} {
		f.Add([]byte(seed))
	}
	const bound = 3
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Page[RestoreSession]
		err := boundedPage[RestoreSession]{page: &p, max: bound}.decodeStream(newDecoder(bytes.NewReader(body)))
		if len(p.Results) > bound {
			t.Fatalf("%d results decoded past the bound of %d (err %v)", len(p.Results), bound, err)
		}
		if err == nil {
			for _, s := range p.Results {
				if len(s.Links) > maxLinks {
					t.Fatalf("%d links past the bound", len(s.Links))
				}
			}
		}
		if errors.Is(err, ErrTooManyItems) && len(p.Results) != bound && !bytes.Contains(bytes.ToLower(body), []byte("links")) {
			t.Fatalf("too many items with %d of %d results decoded: %v", len(p.Results), bound, err)
		}
	})
}
