// Package loaders batches and deduplicates upstream reads. A Backend lives as long as the
// gateway (servers, caches); a Loaders set is created per request by Middleware and holds the
// dataloaders, so within one request each upstream resource is fetched at most once.
package loaders

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/cost"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders/cache"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Upstream is what the loaders need of a VBO server; *upstream.Client implements it.
type Upstream interface {
	Organizations(ctx context.Context) ([]upstream.Organization, error)
	RestoreSessions(ctx context.Context, opts upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error)
	RestoreSession(ctx context.Context, id string) (*upstream.RestoreSession, *upstream.Response, error)
	RestoreSessionEvents(ctx context.Context, sessionID string, opts upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error)
	RestoreSessionEvent(ctx context.Context, sessionID, eventID string) (*upstream.RestoreSessionEvent, *upstream.Response, error)
}

var _ Upstream = (*upstream.Client)(nil)

// VBOServer is one VBO server as the loaders see it.
type VBOServer struct {
	Name       string
	APIVersion string
	Client     Upstream
}

// Config tunes the Backend. Zero values take the defaults.
type Config struct {
	// CacheBytes bounds the immutable-data cache (stopped sessions and their events). Default 256 MiB; negative disables.
	CacheBytes int
	// ListingTTL keeps organisation lists and session listing pages across requests. Default 5 s; negative disables.
	ListingTTL time.Duration
	// ListingBytes bounds the listing TTL cache by an estimate of what it holds. Default 64 MiB.
	ListingBytes int
	// PageSize is the limit asked for when walking session listings. Default
	// upstream.MaxPageSize (10,000, the most VBO serves): a walk of the scan budget takes 2 calls.
	PageSize int
	// FirstPageSize is the limit of a walk's first call when the listing is open-ended (no
	// startTimeFrom): most walks want the newest few hundred sessions (a dashboard's 10 newest
	// of each of 20 organisations took ~500), and a first page of PageSize would make VBO
	// serialise, and the gateway decode, twenty times what they use. A walk that needs more
	// goes on in pages of PageSize: one call more than PageSize pages alone, and only for walks
	// past the first page. A listing bounded by startTimeFrom is read in pages of PageSize from
	// the start (the caller asked for that range). Default 1,000; negative: PageSize.
	FirstPageSize int
	// EventsPageSize is the most events asked for in one events call. Default upstream.MaxPageSize.
	EventsPageSize int
	// EventsCounted is how many of a session's events are read to answer totalCount (a walk
	// of ceil(EventsCounted / EventsPageSize) calls); beyond it totalCount is null. Default 10,000.
	EventsCounted int
	// ScanBudget bounds the sessions one request reads from one server's listing in one walk
	// (default 20,000; negative: no bound). A walk that reaches it pauses: the page ends early
	// with hasNextPage and a cursor that continues from there. A filter that matches little of
	// a large listing thus costs each request a bounded number of upstream calls.
	ScanBudget int
	// BatchWait is how long a dataloader collects keys before it calls upstream. Default 1 ms.
	BatchWait time.Duration
	// OrganizationsTTL keeps each server's organisation list this long, refreshed by
	// KeepOrganizations before it expires (orgs.go): the gateway sets it to reads.maxLag when
	// reads come from the archive. 0: off (the listing TTL cache may still keep them).
	OrganizationsTTL time.Duration
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultScanBudget is Config.ScanBudget's default.
const DefaultScanBudget = 20_000

// DefaultEventsCounted is Config.EventsCounted's default.
const DefaultEventsCounted = 10_000

// DefaultFirstPageSize is Config.FirstPageSize's default.
const DefaultFirstPageSize = 1_000

const (
	defaultCacheBytes   = 256 << 20
	defaultListingTTL   = 5 * time.Second
	defaultListingBytes = 64 << 20
)

// Backend is the long-lived part: the servers and the caches shared by all requests.
type Backend struct {
	servers   []VBOServer
	byName    map[string]int
	cfg       Config
	immutable *cache.LRU[cacheKey, cached]
	listings  *listingCache // nil when disabled
	orgLists  orgLists
}

// NewBackend returns a backend over servers (in display order).
func NewBackend(servers []VBOServer, cfg Config) (*Backend, error) {
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = defaultCacheBytes
	}
	if cfg.ListingTTL == 0 {
		cfg.ListingTTL = defaultListingTTL
	}
	if cfg.ListingBytes <= 0 {
		cfg.ListingBytes = defaultListingBytes
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = upstream.MaxPageSize
	}
	switch {
	case cfg.FirstPageSize == 0:
		cfg.FirstPageSize = DefaultFirstPageSize
	case cfg.FirstPageSize < 0:
		cfg.FirstPageSize = cfg.PageSize
	}
	cfg.FirstPageSize = min(cfg.FirstPageSize, cfg.PageSize)
	if cfg.EventsPageSize <= 0 {
		cfg.EventsPageSize = upstream.MaxPageSize
	}
	if cfg.EventsCounted <= 0 {
		cfg.EventsCounted = DefaultEventsCounted
	}
	if cfg.ScanBudget == 0 {
		cfg.ScanBudget = DefaultScanBudget
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Backend{servers: servers, byName: map[string]int{}, cfg: cfg,
		immutable: cache.NewLRU[cacheKey, cached](max(cfg.CacheBytes, 0))}
	for i, s := range servers {
		if _, dup := b.byName[s.Name]; dup {
			return nil, fmt.Errorf("duplicate server %q", s.Name)
		}
		b.byName[s.Name] = i
	}
	if cfg.ListingTTL > 0 {
		b.listings = newListingCache(cfg.ListingBytes, cfg.ListingTTL)
	}
	return b, nil
}

// Paging is how the backend reads VBO, for the query cost estimate (graph/cost).
func (b *Backend) Paging() cost.Paging {
	return cost.Paging{ListingPageSize: b.cfg.PageSize, FirstListingPageSize: b.cfg.FirstPageSize, ScanBudget: b.cfg.ScanBudget,
		EventsPageSize: b.cfg.EventsPageSize, EventsCounted: b.cfg.EventsCounted}
}

// Servers returns the servers in display order.
func (b *Backend) Servers() []VBOServer { return b.servers }

// Server returns a server by name.
func (b *Backend) Server(name string) (VBOServer, bool) {
	i, ok := b.byName[name]
	if !ok {
		return VBOServer{}, false
	}
	return b.servers[i], true
}

// CacheStats reports the immutable-data cache's counters.
func (b *Backend) CacheStats() cache.Stats { return b.immutable.Stats() }

// cacheKey names one immutable object: kind + server + upstream id.
type cacheKey struct {
	kind   byte // 's' session, 'e' events of a session
	server string
	id     string
}

type cached interface{ cache.Sized }

type cachedSession struct{ s upstream.RestoreSession }

func (c cachedSession) SizeBytes() int { return sessionSize(&c.s) }

type cachedEvents struct {
	events []upstream.RestoreSessionEvent
}

func (c cachedEvents) SizeBytes() int {
	n := 24
	for i := range c.events {
		n += eventSize(&c.events[i])
	}
	return n
}

func sessionSize(s *upstream.RestoreSession) int {
	return 256 + len(s.ID) + len(s.Name) + len(s.Organization) + len(s.InitiatedBy) + len(s.Details) +
		len(s.ScopeName) + len(s.ClientHost) + len(s.Reason) + linksSize(s.Links)
}

func eventSize(e *upstream.RestoreSessionEvent) int {
	return 224 + len(e.ID) + len(e.Duration) + len(e.Title) + len(e.Message) + len(e.ItemName) +
		len(e.ItemType) + len(e.Source) + len(e.Target) + linksSize(e.Links)
}

func linksSize(l upstream.Links) int {
	n := 0
	for k, v := range l {
		n += 48 + len(k) + len(v.Href)
	}
	return n
}

func (b *Backend) cachedSession(server, id string) (*upstream.RestoreSession, bool) {
	v, ok := b.immutable.Get(cacheKey{'s', server, id})
	if !ok {
		return nil, false
	}
	s := v.(cachedSession).s
	return &s, true
}

// cachedEvents returns all the events of a stopped session, when they are cached.
func (b *Backend) cachedEvents(server, sessionID string) ([]upstream.RestoreSessionEvent, bool) {
	v, ok := b.immutable.Get(cacheKey{'e', server, sessionID})
	if !ok {
		return nil, false
	}
	return v.(cachedEvents).events, true
}

// rememberEvents caches all the events of a stopped session (they never change again).
func (b *Backend) rememberEvents(server, sessionID string, events []upstream.RestoreSessionEvent) {
	b.immutable.Add(cacheKey{'e', server, sessionID}, cachedEvents{slices.Clone(events)})
}

// rememberSession caches a session if it has stopped (it never changes again).
func (b *Backend) rememberSession(server string, s *upstream.RestoreSession) {
	if s.Finished() {
		b.immutable.Add(cacheKey{'s', server, s.ID}, cachedSession{*s})
	}
}
