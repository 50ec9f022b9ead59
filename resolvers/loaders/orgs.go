package loaders

import (
	"context"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The organisation lists kept while reads come from the archive (Config.OrganizationsTTL).
// A read the archive answers makes no session call upstream, but scope (tenants see their
// organisations, by id) and the sessions' organisation names still need each server's
// organisations: reading them per request would be the only upstream calls such a read makes.
// They are kept for the TTL (the archive's own bound on staleness, reads.maxLag) and
// refreshed in the background before they expire (KeepOrganizations), so requests read none.

type orgsEntry struct {
	list []upstream.Organization
	at   time.Time
}

type orgLists struct {
	mu sync.Mutex
	m  map[string]orgsEntry
}

// keptOrganizations is server's kept list when it is younger than the TTL.
func (b *Backend) keptOrganizations(server string) ([]upstream.Organization, bool) {
	e, ok := b.keptEntry(server)
	return e.list, ok
}

// keptEntry is server's kept entry when the TTL is on and it is younger than the TTL.
func (b *Backend) keptEntry(server string) (orgsEntry, bool) {
	if b.cfg.OrganizationsTTL <= 0 {
		return orgsEntry{}, false
	}
	b.orgLists.mu.Lock()
	defer b.orgLists.mu.Unlock()
	e, ok := b.orgLists.m[server]
	if !ok || b.now().Sub(e.at) > b.cfg.OrganizationsTTL {
		return orgsEntry{}, false
	}
	return e, true
}

// keepOrganizations records server's list as read at at (when the TTL is on).
func (b *Backend) keepOrganizations(server string, list []upstream.Organization, at time.Time) {
	if b.cfg.OrganizationsTTL <= 0 {
		return
	}
	b.orgLists.mu.Lock()
	defer b.orgLists.mu.Unlock()
	if b.orgLists.m == nil {
		b.orgLists.m = map[string]orgsEntry{}
	}
	if old, ok := b.orgLists.m[server]; ok && old.at.After(at) {
		return
	}
	b.orgLists.m[server] = orgsEntry{list: list, at: at}
}

// OrganizationsAsOf is when server's kept organisation list was read (ok false: none kept, or
// expired), for extensions.freshness.
func (b *Backend) OrganizationsAsOf(server string) (time.Time, bool) {
	e, ok := b.keptEntry(server)
	return e.at, ok
}

// RefreshOrganizations reads every server's organisations into the kept lists (a server that
// fails keeps its list until it expires; requests then read it themselves). Nothing when the
// TTL is off.
func (b *Backend) RefreshOrganizations(ctx context.Context) {
	if b.cfg.OrganizationsTTL <= 0 {
		return
	}
	var wg sync.WaitGroup
	for _, s := range b.servers {
		wg.Go(func() {
			at := b.now()
			list, err := s.Client.Organizations(ctx)
			if err != nil {
				if ctx.Err() == nil {
					b.cfg.Logger.WarnContext(ctx, "organisations not refreshed", "server", s.Name, "err", err)
				}
				return
			}
			b.keepOrganizations(s.Name, list, at)
		})
	}
	wg.Wait()
}

// KeepOrganizations refreshes the kept organisation lists at once and then every half TTL
// until ctx ends (nothing when the TTL is off).
func (b *Backend) KeepOrganizations(ctx context.Context) {
	if b.cfg.OrganizationsTTL <= 0 {
		return
	}
	t := time.NewTicker(b.cfg.OrganizationsTTL / 2)
	defer t.Stop()
	for {
		b.RefreshOrganizations(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Backend) now() time.Time {
	if b.cfg.Now != nil {
		return b.cfg.Now()
	}
	return time.Now()
}
