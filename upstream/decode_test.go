package upstream

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestDecodeListSizing: a list decodes whole whatever room it was expected to need, is sized
// exactly when it is as long as expected, keeps no more than twice its length in room when it
// is shorter than expected, and fails with ErrTooManyItems once it holds max items.
func TestDecodeListSizing(t *testing.T) {
	items := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat(`{"order":1},`, n), ",") + "]" }
	for _, tc := range []struct {
		name          string
		n, expect     int
		max           int
		tooMany       bool
		exactCapacity bool
	}{
		{name: "as expected", n: 51, expect: 51, max: 67, exactCapacity: true},
		{name: "one more than expected", n: 52, expect: 51, max: 67},
		{name: "short of a large ask", n: 3, expect: MaxPageSize, max: pageBound(MaxPageSize)},
		{name: "half of a large ask", n: 1025, expect: 2048, max: pageBound(2048)},
		{name: "a full large page", n: 5000, expect: 5000, max: pageBound(5000), exactCapacity: true},
		{name: "unknown length", n: 1000, max: MaxOrganizations},
		{name: "unknown length, short", n: 1, max: MaxOrganizations},
		{name: "empty", n: 0, expect: 30, max: 46},
		{name: "at the bound", n: 46, expect: 30, max: 46},
		{name: "past the bound", n: 47, expect: 30, max: 46, tooMany: true},
		{name: "far past the bound", n: 5000, expect: 30, max: 46, tooMany: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var list []RestoreSessionEvent
			err := decodeList(newDecoder(strings.NewReader(items(tc.n))), "a page", tc.max, tc.expect, &list)
			switch {
			case tc.tooMany:
				if !errors.Is(err, ErrTooManyItems) || len(list) != tc.max {
					t.Fatalf("%d items, err %v: want %d and ErrTooManyItems", len(list), err, tc.max)
				}
				return
			case err != nil:
				t.Fatal(err)
			case len(list) != tc.n:
				t.Fatalf("%d items, want %d", len(list), tc.n)
			case tc.exactCapacity && cap(list) != tc.n:
				t.Fatalf("capacity %d for %d items, want exact", cap(list), tc.n)
			case cap(list) > 2*tc.n && cap(list) > unknownListCap:
				t.Fatalf("capacity %d kept for %d items", cap(list), tc.n)
			}
			for i, ev := range list {
				if ev.Order != 1 {
					t.Fatalf("item %d: %+v", i, ev)
				}
			}
		})
	}
}

// TestDecodeListShortAnswerAllocatesLittle: a short answer to a large ask (a session's few dozen
// events read with a limit of 10,000) allocates room for about what it holds, not for the limit:
// the dashboard makes 600 such calls.
func TestDecodeListShortAnswerAllocatesLittle(t *testing.T) {
	const n = 30
	in := "[" + strings.TrimSuffix(strings.Repeat(`{"order":1},`, n), ",") + "]"
	item := int(unsafe.Sizeof(RestoreSessionEvent{}))
	var before, after runtime.MemStats
	const runs = 20
	runtime.ReadMemStats(&before)
	for range runs {
		var list []RestoreSessionEvent
		if err := decodeList(newDecoder(strings.NewReader(in)), "a page", pageBound(MaxPageSize), MaxPageSize, &list); err != nil || len(list) != n {
			t.Fatalf("%d items, %v", len(list), err)
		}
	}
	runtime.ReadMemStats(&after)
	perRun := int(after.TotalAlloc-before.TotalAlloc) / runs
	// A few times the room its items need, and the decoder's own buffers.
	if limit := 4*n*item + 32<<10; perRun > limit {
		t.Errorf("%d bytes allocated per decode of %d items (%d bytes each), want at most %d", perRun, n, item, limit)
	}
}
