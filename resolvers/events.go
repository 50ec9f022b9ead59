package resolvers

import (
	"context"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/vbo-gateway/vbo-gateway/graph/cost"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
)

// sessionEvents pages a session's events. Its cursors are upstream offsets, so a page reads
// one upstream call from where the previous one ended (VBO filters nothing: the gateway does).
// A filter that matches little may end a page early with hasNextPage and an endCursor that
// continues after what was read. totalCount reads the session from the start, up to the
// backend's EventsCounted events (null beyond), and only when it is selected; it is also known
// whenever a page from the start reached the end.
func (r *Resolver) sessionEvents(ctx context.Context, obj *model.RestoreSession, first *int, after *string, filter *model.RestoreEventFilter) (*model.RestoreEventConnection, error) {
	if err := checkOffsetArgs(r.Cursors, first, after); err != nil {
		return nil, err
	}
	size, _ := pageSize(first)
	from := 0
	if after != nil {
		from, _ = r.Cursors.DecodeOffset(*after) // checked above
	}
	if obj.Archived && r.Reads != nil {
		return r.archiveEvents(ctx, obj, from, size, eventMatch(filter))
	}
	l := loaders.For(ctx)
	selective := filter != nil && (len(filter.Types) > 0 || len(filter.Statuses) > 0)
	page, err := l.RestoreSessionEvents(ctx, loaders.EventsQuery{
		Server: obj.ServerName, SessionID: obj.Upstream.ID, Final: obj.Upstream.Finished(),
		After: from, Need: size + 1, Limit: cost.EventsLimit(size, selective, l.Backend().Paging().EventsPageSize),
		Count: selects(ctx, "totalCount"), FilterKey: eventFilterKey(filter), Match: eventMatch(filter),
	})
	if err != nil {
		addServerError(ctx, err)
		return &model.RestoreEventConnection{Edges: []*model.RestoreEventEdge{}, PageInfo: &model.PageInfo{}}, nil
	}
	n := min(len(page.Events), size)
	conn := &model.RestoreEventConnection{Edges: make([]*model.RestoreEventEdge, 0, n), TotalCount: page.Total,
		PageInfo: &model.PageInfo{HasNextPage: len(page.Events) > size || !page.End, HasPreviousPage: from > 0}}
	for i := range n {
		conn.Edges = append(conn.Edges, model.NewRestoreEventEdge(&model.RestoreEvent{ServerName: obj.ServerName, SessionID: obj.Upstream.ID,
			Upstream: page.Events[i]}, r.Cursors, page.Offsets[i]+1))
	}
	if n > 0 { // the edges' own cursors (each seals its own once, on first use)
		start, end := conn.Edges[0].Cursor(), conn.Edges[n-1].Cursor()
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	if len(page.Events) <= size && !page.End {
		// The read ended before the page filled: continue after what was read.
		end := r.Cursors.EncodeOffset(page.Next)
		conn.PageInfo.EndCursor = &end
	}
	return conn, nil
}

// selects reports whether the current field's selection asks for name (fragments included);
// outside an executing operation it answers true.
func selects(ctx context.Context, name string) bool {
	if graphql.GetFieldContext(ctx) == nil || !graphql.HasOperationContext(ctx) {
		return true
	}
	return slices.Contains(graphql.CollectAllFields(ctx), name)
}

// eventFilterKey names an event filter: equal keys, equal eventMatch.
func eventFilterKey(f *model.RestoreEventFilter) string {
	itemsOnly := f == nil || f.ItemsOnly == nil || *f.ItemsOnly
	var b strings.Builder
	if itemsOnly {
		b.WriteString("items")
	}
	if f != nil {
		types := make([]string, 0, len(f.Types))
		for _, t := range f.Types {
			types = append(types, string(t))
		}
		statuses := make([]string, 0, len(f.Statuses))
		for _, s := range f.Statuses {
			statuses = append(statuses, string(s))
		}
		slices.Sort(types)
		slices.Sort(statuses)
		b.WriteString(";t=" + strings.Join(types, ",") + ";s=" + strings.Join(statuses, ","))
	}
	return b.String()
}
