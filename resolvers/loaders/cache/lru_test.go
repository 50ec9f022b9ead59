package cache

import "testing"

type blob int

func (b blob) SizeBytes() int { return int(b) }

func TestLRUEvictsByBytes(t *testing.T) {
	c := NewLRU[string, blob](3 * (100 + 64))
	c.Add("a", 100)
	c.Add("b", 100)
	c.Add("c", 100)
	if _, ok := c.Get("a"); !ok { // a becomes most recent
		t.Fatal("a missing")
	}
	c.Add("d", 100) // evicts b, the least recently used
	if _, ok := c.Get("b"); ok {
		t.Error("b should have been evicted")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s evicted, want kept", k)
		}
	}
	s := c.Stats()
	if s.Entries != 3 || s.UsedBytes != 3*164 || s.Evictions != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestLRURefusesOversizeAndReplaces(t *testing.T) {
	c := NewLRU[string, blob](1000)
	c.Add("huge", 5000)
	if _, ok := c.Get("huge"); ok {
		t.Error("value larger than the budget was stored")
	}
	c.Add("x", 100)
	c.Add("x", 300)
	if v, _ := c.Get("x"); v != 300 {
		t.Errorf("x = %d, want 300", v)
	}
	if s := c.Stats(); s.UsedBytes != 364 || s.Entries != 1 {
		t.Errorf("stats after replace = %+v", s)
	}
	off := NewLRU[string, blob](0)
	off.Add("x", 1)
	if _, ok := off.Get("x"); ok {
		t.Error("disabled cache stored a value")
	}
}
