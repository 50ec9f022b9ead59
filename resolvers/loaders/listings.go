package loaders

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// listingCache keeps organisation lists and session listing pages for the listing TTL,
// bounded by an estimate of the bytes they hold (a listing page holds up to 10,000 sessions,
// a few MiB): the oldest entries go first when the budget is exceeded.
type listingCache struct {
	mu     sync.Mutex // serialises add's evictions
	lru    *expirable.LRU[string, sizedListing]
	bytes  atomic.Int64 // also lowered by the LRU's own expiry goroutine
	budget int64
}

type sizedListing struct {
	v    any
	size int
}

// maxListingEntries bounds the entries whatever their size (many tiny pages).
const maxListingEntries = 4096

func newListingCache(budget int, ttl time.Duration) *listingCache {
	c := &listingCache{budget: int64(budget)}
	c.lru = expirable.NewLRU[string, sizedListing](maxListingEntries, func(_ string, v sizedListing) {
		c.bytes.Add(-int64(v.size))
	}, ttl)
	return c
}

func (c *listingCache) get(key string) (any, bool) {
	v, ok := c.lru.Get(key)
	return v.v, ok
}

// add stores v (about size bytes), evicting the oldest entries to stay within the budget. A
// value larger than the whole budget is not stored.
func (c *listingCache) add(key string, v any, size int) {
	if int64(size) > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key) // a replaced entry's bytes are released by the eviction callback
	c.lru.Add(key, sizedListing{v: v, size: size})
	c.bytes.Add(int64(size))
	for c.bytes.Load() > c.budget {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

// Size estimates of what the listing cache holds.
func orgsBytes(orgs []upstream.Organization) int {
	n := 24
	for i := range orgs {
		o := &orgs[i]
		n += 256 + len(o.ID) + len(o.Name) + len(o.OfficeName) + len(o.Description) + len(o.Region) + linksSize(o.Links)
	}
	return n
}

func sessionPageBytes(p *upstream.Page[upstream.RestoreSession]) int {
	n := 64
	for i := range p.Results {
		n += sessionSize(&p.Results[i])
	}
	return n
}
