package resolvers

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

var fuzzCursors = gid.NewRandomCursors()

// fuzzHostile is what neither a reason nor a search may hold (besides a reason's newline and
// tab): C0, DEL and C1 controls, and the bidirectional controls (U+061C, U+200E-F,
// U+202A-E, U+2066-9), spelled out here independently of the code under test.
func fuzzHostile(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x061c || r == 0x200e || r == 0x200f ||
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// FuzzRestoreInputs: the front door's client inputs (startRestoreSession's reason, a browse
// search, after cursors, item ids) never panic; what is accepted is bounded; a cursor or id
// only ever opens for its own list and session: another session's item id is NOT_FOUND, another
// list's cursor BAD_USER_INPUT, anything not sealed here BAD_USER_INPUT.
func FuzzRestoreInputs(f *testing.F) {
	list := browseList{session: "gw-1", ref: upstream.BrowseRef{Kind: upstream.BrowseMailItems, ContainerID: "mb", ParentID: "f"}}
	f.Add("ticket 42", "invoices", "", "gw-1", "mb", 5)
	f.Add("", " ", encodeBrowseCursor(fuzzCursors, list, 3), "gw-2", "", 0)
	f.Add(strings.Repeat("é", 501), "a\x00b", "not-a-cursor", "gw-1", "a&g=gw-2", -1)
	f.Add("why\nnot", strings.Repeat("q", 300), gid.EncodeOffset(4), "", "x=y", 1<<31)
	// C1 controls (an 8-bit CSI, NEL) and a bidirectional override, in the reason and the search.
	f.Add("ticket \u009b31m 42", "inv\u0085oices", "", "gw-1", "mb", 0)
	f.Add("ticket \u202egnp.exe", "\u2066invoices", "", "gw-1", "mb", 0)
	f.Fuzz(func(t *testing.T, reason, search, after, session, upstreamID string, offset int) {
		if err := CheckRestoreReason(reason); err == nil {
			if n := utf8.RuneCountInString(reason); n < 1 || n > MaxRestoreReason || strings.TrimSpace(reason) == "" {
				t.Fatalf("reason of %d characters accepted", n)
			}
			if strings.ContainsFunc(reason, func(r rune) bool { return r != '\n' && r != '\t' && fuzzHostile(r) }) {
				t.Fatalf("reason %q with a control character accepted", reason)
			}
		} else if code, _ := Classify(err); code != CodeBadUserInput {
			t.Fatalf("reason refused with %s", code)
		}
		if q, err := checkSearch(&search); err == nil && utf8.RuneCountInString(q) > maxRestoreSearch {
			t.Fatalf("search of %d characters accepted", utf8.RuneCountInString(q))
		} else if err == nil && strings.ContainsFunc(q, fuzzHostile) {
			t.Fatalf("search %q with a control character accepted", q)
		}
		// A client's cursor: opens for list or is refused as bad input, never another error.
		if n, err := decodeBrowseCursor(fuzzCursors, list, &after); err != nil {
			if code, _ := Classify(err); code != CodeBadUserInput {
				t.Fatalf("cursor %q refused with %s (%v)", after, code, err)
			}
		} else if n < 0 || n > maxBrowseOffset {
			t.Fatalf("cursor %q opened at %d", after, n)
		}
		// Sealed here: round trips for its own list and session only.
		if offset >= 0 && offset <= maxBrowseOffset {
			other := list
			other.session = session
			c := encodeBrowseCursor(fuzzCursors, other, offset)
			n, err := decodeBrowseCursor(fuzzCursors, list, &c)
			switch {
			case session == list.session && (err != nil || n != offset):
				t.Fatalf("own cursor at %d: %d, %v", offset, n, err)
			case session != list.session && err == nil:
				t.Fatalf("a cursor of session %q opened for %q", session, list.session)
			}
		}
		if upstreamID != "" {
			it := RestoreItemRef{GatewaySessionID: session, Kind: model.RestoreItemKindMailItem, Ref: list.ref, Upstream: upstreamID}
			id := EncodeRestoreItemID(fuzzCursors, it)
			got, err := DecodeRestoreItemID(fuzzCursors, id, "gw-1")
			switch {
			case session == "gw-1" && (err != nil || got != it):
				t.Fatalf("own item id: %+v, %v", got, err)
			case session != "gw-1" && !errors.Is(err, ErrNotFound):
				t.Fatalf("another session's item id: %+v, %v, want NOT_FOUND", got, err)
			}
		}
		if _, err := DecodeRestoreItemID(fuzzCursors, after, "gw-1"); err != nil {
			if code, _ := Classify(err); code != CodeBadUserInput && code != CodeNotFound {
				t.Fatalf("item id %q refused with %s", after, code)
			}
		}
	})
}

// FuzzRestoreActionInputs: the item actions' inputs (idempotency key, send subject and text,
// target, item names carried by item ids, pending approvals positions) never panic; what is
// accepted is bounded and free of control characters; a name round trips through an item id,
// cut to maxItemName bytes of valid UTF-8.
func FuzzRestoreActionInputs(f *testing.F) {
	f.Add("retry-1", "Invoice March", "line 1\nline 2", "a@contoso.com", "Report.docx", "123:abc")
	f.Add("", strings.Repeat("s", 300), "\x00", "https://x/\x7f", strings.Repeat("é", 200), "x:y")
	f.Add(strings.Repeat("k", 201), "\u202e", "\t", "", "a&n=b", "-1:")
	f.Fuzz(func(t *testing.T, key, subject, text, target, name, position string) {
		if err := CheckIdempotencyKey(key); err == nil {
			if n := utf8.RuneCountInString(key); n < 1 || n > maxIdempotencyKey || strings.TrimSpace(key) == "" {
				t.Fatalf("key of %d characters accepted", n)
			}
		} else if code, _ := Classify(err); code != CodeBadUserInput {
			t.Fatalf("key refused with %s", code)
		}
		for _, c := range []struct {
			v         string
			max       int
			multiline bool
		}{{subject, maxSubject, false}, {text, maxSendText, true}, {target, maxTarget, false}} {
			err := checkActionText("f", c.v, c.max, c.multiline)
			if err != nil {
				if code, _ := Classify(err); code != CodeBadUserInput {
					t.Fatalf("%q refused with %s", c.v, code)
				}
				continue
			}
			if !utf8.ValidString(c.v) || utf8.RuneCountInString(c.v) > c.max || strings.ContainsFunc(c.v, func(r rune) bool {
				return r == 0x7f || r < 0x20 && !(c.multiline && (r == '\n' || r == '\t'))
			}) {
				t.Fatalf("%q accepted", c.v)
			}
		}
		it := RestoreItemRef{GatewaySessionID: "gw-1", Kind: model.RestoreItemKindDriveDocument,
			Ref: upstream.BrowseRef{Kind: upstream.BrowseDriveDocuments, ContainerID: "od"}, Upstream: "doc", Name: name}
		got, err := DecodeRestoreItemID(fuzzCursors, EncodeRestoreItemID(fuzzCursors, it), "gw-1")
		if err != nil {
			t.Fatalf("own item id: %v", err)
		}
		if len(got.Name) > maxItemName || !strings.HasPrefix(name, got.Name) || len(name) <= maxItemName && got.Name != name ||
			utf8.ValidString(name) && !utf8.ValidString(got.Name) {
			t.Fatalf("name %q came back as %q", name, got.Name)
		}
		if ns, id, err := ParseApprovalPosition(position); err == nil {
			if ns < 0 || len(id) > maxActionID || position == "" && (ns != 0 || id != "") {
				t.Fatalf("position %q opened as %d %q", position, ns, id)
			}
		} else if code, _ := Classify(err); code != CodeBadUserInput {
			t.Fatalf("position %q refused with %s", position, code)
		}
	})
}
