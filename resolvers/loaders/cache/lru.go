// Package cache keeps immutable upstream data (stopped restore sessions and their events)
// across requests, bounded by an estimate of the bytes it holds.
package cache

import (
	"container/list"
	"sync"
)

// Sized is a value that knows roughly how many bytes it keeps alive.
type Sized interface {
	SizeBytes() int
}

// LRU is a least-recently-used cache bounded by total SizeBytes. Safe for concurrent use.
// A zero or negative budget disables it.
type LRU[K comparable, V Sized] struct {
	mu       sync.Mutex
	budget   int
	used     int
	ll       *list.List
	items    map[K]*list.Element
	hits     uint64
	misses   uint64
	evicted  uint64
	oversize uint64
}

type entry[K comparable, V Sized] struct {
	key  K
	val  V
	size int
}

// NewLRU returns a cache holding at most budget bytes.
func NewLRU[K comparable, V Sized](budget int) *LRU[K, V] {
	return &LRU[K, V]{budget: budget, ll: list.New(), items: map[K]*list.Element{}}
}

// Get returns the value for key and marks it recently used.
func (c *LRU[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		c.hits++
		return el.Value.(*entry[K, V]).val, true
	}
	c.misses++
	var zero V
	return zero, false
}

// Add stores val under key, evicting the least recently used entries to stay in budget.
// A value larger than the whole budget is not stored.
func (c *LRU[K, V]) Add(key K, val V) {
	size := val.SizeBytes() + 64
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.budget {
		c.oversize++
		return
	}
	if el, ok := c.items[key]; ok {
		e := el.Value.(*entry[K, V])
		c.used += size - e.size
		e.val, e.size = val, size
		c.ll.MoveToFront(el)
	} else {
		c.items[key] = c.ll.PushFront(&entry[K, V]{key: key, val: val, size: size})
		c.used += size
	}
	for c.used > c.budget {
		last := c.ll.Back()
		e := last.Value.(*entry[K, V])
		c.ll.Remove(last)
		delete(c.items, e.key)
		c.used -= e.size
		c.evicted++
	}
}

// Stats is a snapshot of the cache's counters.
type Stats struct {
	Entries, UsedBytes, BudgetBytes int
	Hits, Misses, Evictions         uint64
}

// Stats returns the counters.
func (c *LRU[K, V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Entries: len(c.items), UsedBytes: c.used, BudgetBytes: c.budget,
		Hits: c.hits, Misses: c.misses, Evictions: c.evicted}
}
