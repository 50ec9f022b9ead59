package loaders

import (
	"testing"
	"time"
)

// The listing cache keeps what fits in its byte budget, oldest out first, and forgets entries
// after the TTL.
func TestListingCacheBudget(t *testing.T) {
	c := newListingCache(100, time.Minute)
	c.add("a", "A", 40)
	c.add("b", "B", 40)
	c.add("c", "C", 40) // 120 > 100: a goes
	if _, ok := c.get("a"); ok {
		t.Error("a kept over the budget")
	}
	for _, k := range []string{"b", "c"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	c.add("c", "C2", 10) // replacing releases the old size
	if v, _ := c.get("c"); v != "C2" || c.bytes.Load() != 50 {
		t.Errorf("after replace: %v, %d bytes, want C2 and 50", v, c.bytes.Load())
	}
	c.add("huge", "H", 101) // larger than the whole budget: not stored, nothing evicted
	if _, ok := c.get("huge"); ok || c.bytes.Load() != 50 {
		t.Errorf("huge stored (%d bytes)", c.bytes.Load())
	}
	short := newListingCache(100, 20*time.Millisecond)
	short.add("x", "X", 10)
	time.Sleep(60 * time.Millisecond)
	if _, ok := short.get("x"); ok {
		t.Error("x outlived its TTL")
	}
}
