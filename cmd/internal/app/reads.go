package app

import (
	"context"
	"errors"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// archiveReads wires the store's list readers into the resolvers (config reads; the watch on).
func archiveReads(cfg *config.Config, st *store.Store) *resolvers.ArchiveReads {
	if st == nil {
		return nil
	}
	r := cfg.Reads.WithDefaults()
	return &resolvers.ArchiveReads{Reader: &archiveReader{st: st, retention: cfg.Watch.WithDefaults().Retention},
		From: resolvers.ReadsFrom(r.From), MaxLag: r.MaxLag}
}

// organizationsTTL is how long the loaders keep each server's organisation list, refreshed in
// the background (loaders.Backend.KeepOrganizations): reads.maxLag while reads may come from
// the archive (the watch on, reads.from not upstream), so that an archive read makes no
// upstream call and its organisations are no older than the archive may be; 0 otherwise.
func organizationsTTL(cfg *config.Config, st *store.Store) time.Duration {
	r := cfg.Reads.WithDefaults()
	if st == nil || !cfg.Watch.Enabled || r.From == config.ReadsUpstream {
		return 0
	}
	return r.MaxLag
}

// archiveReader is resolvers.ArchiveReader on the store.
type archiveReader struct {
	st *store.Store
	// retention: the archive deletes sessions that ended longer ago (0: keeps them all).
	retention time.Duration
}

func listQuery(q resolvers.ArchiveListQuery) store.ListQuery {
	l := store.ListQuery{Servers: q.Servers, From: q.From, To: q.To, Limit: q.Limit, Orgs: q.Orgs,
		Types: valueSet(q.Types), States: valueSet(q.States), Results: valueSet(q.Results)}
	if q.After != nil {
		l.After = &store.ListKey{Start: q.After.Start, Server: q.After.Server, ID: q.After.ID}
	}
	return l
}

func valueSet(v *resolvers.ArchiveValues) *store.ValueSet {
	if v == nil {
		return nil
	}
	return &store.ValueSet{In: v.In, NotIn: v.NotIn}
}

func archived(x *store.Session) resolvers.ArchivedSession {
	return resolvers.ArchivedSession{Server: x.Server, Session: x.Session, EventsComplete: x.EventsComplete}
}

func (a *archiveReader) ArchivedSessions(ctx context.Context, q resolvers.ArchiveListQuery) ([]resolvers.ArchivedSession, error) {
	list, err := a.st.ListSessions(ctx, listQuery(q))
	if err != nil {
		return nil, err
	}
	return archivedList(list), nil
}

// archivedList is archived of each session of list.
func archivedList(list []*store.Session) []resolvers.ArchivedSession {
	out := make([]resolvers.ArchivedSession, len(list))
	for i, x := range list {
		out[i] = archived(x)
	}
	return out
}

func (a *archiveReader) ArchivedSessionLists(ctx context.Context, qs []resolvers.ArchiveListQuery) ([][]resolvers.ArchivedSession, error) {
	sq := make([]store.ListQuery, len(qs))
	for i, q := range qs {
		sq[i] = listQuery(q)
	}
	lists, err := a.st.ListSessionsBatch(ctx, sq)
	if err != nil {
		return nil, err
	}
	out := make([][]resolvers.ArchivedSession, len(lists))
	for i, list := range lists {
		out[i] = archivedList(list)
	}
	return out, nil
}

func (a *archiveReader) CountArchivedSessions(ctx context.Context, q resolvers.ArchiveListQuery) (int, error) {
	return a.st.CountSessions(ctx, listQuery(q))
}

func (a *archiveReader) ArchivedSession(ctx context.Context, server, id string) (*resolvers.ArchivedSession, error) {
	x, err := a.st.Session(ctx, server, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s := archived(x)
	return &s, nil
}

func (a *archiveReader) ArchivedEvents(ctx context.Context, server string, ids []string, offset, limit int, omit loaders.EventOmit) (map[string][]upstream.RestoreSessionEvent, error) {
	return a.st.EventsOfSessions(ctx, server, ids, offset, limit, eventColumns(omit))
}

// eventColumnsOmitted maps the loaders' omitted event fields to the store's columns.
var eventColumnsOmitted = []struct {
	field loaders.EventOmit
	cols  store.EventColumns
}{{loaders.OmitEventID, store.EventID}, {loaders.OmitEventTimes, store.EventTimes}, {loaders.OmitEventDuration, store.EventDuration},
	{loaders.OmitEventTitle, store.EventTitle}, {loaders.OmitEventMessage, store.EventMessage}, {loaders.OmitEventItemName, store.EventItemName},
	{loaders.OmitEventItemType, store.EventItemType}, {loaders.OmitEventItemSize, store.EventItemSize},
	{loaders.OmitEventSource, store.EventSource}, {loaders.OmitEventTarget, store.EventTarget}}

// eventColumns is the store's columns for the fields omit names.
func eventColumns(omit loaders.EventOmit) store.EventColumns {
	var c store.EventColumns
	for _, m := range eventColumnsOmitted {
		if omit&m.field != 0 {
			c |= m.cols
		}
	}
	return c
}

// ArchiveCoverage is every watched server's: from report.CoveredFrom (its backfill window's
// start, or the retention's horizon when later: the restore audit's rule), as of its last poll.
func (a *archiveReader) ArchiveCoverage(ctx context.Context) (map[string]resolvers.ArchiveCoverage, error) {
	states, err := a.st.States(ctx)
	if err != nil {
		return nil, err
	}
	var now time.Time // the store's clock, as the report's coverage (read only when the retention needs it)
	if a.retention > 0 {
		if now, err = a.st.Now(ctx); err != nil {
			return nil, err
		}
	}
	out := make(map[string]resolvers.ArchiveCoverage, len(states))
	for _, st := range states {
		out[st.Server] = resolvers.ArchiveCoverage{From: report.CoveredFrom(st, now, a.retention), HighWater: st.HighWater,
			AsOf: st.LastPoll, Done: st.BackfillDone}
	}
	return out, nil
}
