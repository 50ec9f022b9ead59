package loaders

import (
	"encoding/json"
	"sync"
	"time"
)

// Freshness records, per server, where one request's restore session reads came from: the
// response's extensions.freshness. Safe for concurrent use (resolvers run in parallel).
type Freshness struct {
	mu sync.Mutex
	m  map[string]FreshnessEntry
	// noted: Note ran before (the response's extension is registered once, at the first).
	noted bool
}

// FreshnessEntry is one server's: Source "archive" (AsOf: the watch's last poll of it) or
// "live" (read from VBO during the request). OrganizationsAsOf, on an archive read, is when
// the server's organisation list the request used was read (kept by the backend for at most
// reads.maxLag); absent when it was read during the request.
type FreshnessEntry struct {
	Source            string     `json:"source"`
	AsOf              *time.Time `json:"asOf,omitempty"`
	OrganizationsAsOf *time.Time `json:"organizationsAsOf,omitempty"`
}

// Freshness sources.
const (
	SourceArchive = "archive"
	SourceLive    = "live"
)

// Note records a read of server. An archive read wins over a live one for the same server: the
// answer is then no fresher than the archive. It reports whether this is the request's first
// note, when the caller registers f as the response's extension (gqlgen refuses a second
// registration of a key, and a query reads sessions from many fields).
func (f *Freshness) Note(server string, e FreshnessEntry) (first bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	first, f.noted = !f.noted, true
	if f.m == nil {
		f.m = map[string]FreshnessEntry{}
	}
	if old, ok := f.m[server]; ok && old.Source == SourceArchive && e.Source != SourceArchive {
		return first
	}
	f.m[server] = e
	return first
}

// MarshalJSON writes server -> entry.
func (f *Freshness) MarshalJSON() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(f.m)
}

// Freshness is this request's freshness record.
func (l *Loaders) Freshness() *Freshness { return &l.freshness }
