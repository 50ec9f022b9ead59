package resolvers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/vbo-gateway/vbo-gateway/graph"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// countingArchive is an ArchiveReader holding one stopped session of syd1 with five events; it
// counts the coverage and event reads.
type countingArchive struct {
	mu                   sync.Mutex
	coverage, eventReads int
	omits                []loaders.EventOmit // what each event read left out
	session              ArchivedSession
	events               []upstream.RestoreSessionEvent
}

func newCountingArchive() *countingArchive {
	a := &countingArchive{session: ArchivedSession{Server: "syd1", EventsComplete: true, Session: upstream.RestoreSession{ID: "s1",
		Organization: "Org 1", Type: "Vex", State: "Stopped", Result: "Success", CreationTime: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}}}
	for i := range 5 {
		a.events = append(a.events, upstream.RestoreSessionEvent{ID: fmt.Sprintf("e%d", i), Order: i, Type: "Export", Status: "Success",
			StartTime: a.session.Session.CreationTime})
	}
	return a
}

func (a *countingArchive) ArchivedSessions(_ context.Context, q ArchiveListQuery) ([]ArchivedSession, error) {
	if q.After != nil {
		return nil, nil
	}
	return []ArchivedSession{a.session}, nil
}

func (a *countingArchive) ArchivedSessionLists(ctx context.Context, qs []ArchiveListQuery) ([][]ArchivedSession, error) {
	out := make([][]ArchivedSession, len(qs))
	for i, q := range qs {
		out[i], _ = a.ArchivedSessions(ctx, q)
	}
	return out, nil
}

func (a *countingArchive) CountArchivedSessions(context.Context, ArchiveListQuery) (int, error) {
	return 1, nil
}

func (a *countingArchive) ArchivedSession(_ context.Context, server, id string) (*ArchivedSession, error) {
	if server != a.session.Server || id != a.session.Session.ID {
		return nil, nil
	}
	s := a.session
	return &s, nil
}

func (a *countingArchive) ArchivedEvents(_ context.Context, server string, ids []string, offset, limit int, omit loaders.EventOmit) (map[string][]upstream.RestoreSessionEvent, error) {
	a.mu.Lock()
	a.eventReads++
	a.omits = append(a.omits, omit)
	a.mu.Unlock()
	out := map[string][]upstream.RestoreSessionEvent{}
	if server == a.session.Server && slices.Contains(ids, a.session.Session.ID) {
		offset = min(offset, len(a.events))
		out[a.session.Session.ID] = a.events[offset:min(offset+limit, len(a.events))]
	}
	return out, nil
}

func (a *countingArchive) ArchiveCoverage(context.Context) (map[string]ArchiveCoverage, error) {
	a.mu.Lock()
	a.coverage++
	a.mu.Unlock()
	return map[string]ArchiveCoverage{"syd1": {Done: true, AsOf: time.Now()}}, nil
}

// archiveGateway serves the schema over a simulated syd1 (its organisations) with session reads
// from a.
func archiveGateway(t *testing.T, a ArchiveReader) http.Handler {
	t.Helper()
	sim := vbosim.New(vbosim.Options{Name: "syd1", Username: "svc", Password: "pw", Orgs: 1, Sessions: 1})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := upstream.NewClient(ts.URL, upstream.ClientOptions{Name: "syd1", APIVersion: sim.APIVersion(), Username: "svc", Password: "pw", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "syd1", APIVersion: sim.APIVersion(), Client: c}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{Backend: b, Logger: logger, Cursors: testCursors,
		Reads: &ArchiveReads{Reader: a, From: ReadsArchive}}}))
	srv.AddTransport(transport.POST{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := loaders.With(auth.WithPrincipal(r.Context(), auth.NewAdmin("admin")), b.New())
		srv.ServeHTTP(w, r.WithContext(ctx))
	})
}

// A request reads the archive's coverage once, however many of its fields read sessions, and
// an archived session's events once when the page read them all (totalCount from the page) or
// when its count reads the range the page read (the request's batch of event reads answers
// each range once).
func TestArchiveReadsOnce(t *testing.T) {
	t.Parallel()
	type events struct {
		TotalCount *int
		Edges      []struct{ Cursor string }
		PageInfo   struct{ EndCursor *string }
	}
	type sessions struct {
		Edges []struct{ Node struct{ Events events } }
	}
	for _, tc := range []struct {
		name, query                             string
		after                                   bool // events continue after the first page of two
		wantEdges, wantEventReads, wantCoverage int
	}{
		{"every event on the page", `{ a: restoreSessions(first: 5) { edges { node { events(first: 10) { totalCount edges { cursor } pageInfo { endCursor } } } } } }`,
			false, 5, 1, 1},
		{"two fields read sessions", `{ a: restoreSessions(first: 5) { edges { node { events(first: 10) { totalCount edges { cursor } pageInfo { endCursor } } } } }
			b: restoreSessions(first: 5) { edges { node { events(first: 10) { totalCount edges { cursor } pageInfo { endCursor } } } } } }`,
			false, 5, 1, 1}, // one batch for the request: both fields' keys are one
		{"a page short of the end", `{ a: restoreSessions(first: 5) { edges { node { events(first: 2) { totalCount edges { cursor } pageInfo { endCursor } } } } } }`,
			false, 2, 1, 1}, // the count reads from 0 in the page's batch: the request's batch answers it
		{"a page after a cursor", `query($after: String) { a: restoreSessions(first: 5) { edges { node { events(first: 10, after: $after) { totalCount edges { cursor } pageInfo { endCursor } } } } } }`,
			true, 3, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newCountingArchive()
			c := client.New(archiveGateway(t, a))
			var opts []client.Option
			if tc.after {
				var first struct{ A sessions }
				c.MustPost(`{ a: restoreSessions(first: 5) { edges { node { events(first: 2) { edges { cursor } pageInfo { endCursor } } } } } }`, &first)
				opts = append(opts, client.Var("after", *first.A.Edges[0].Node.Events.PageInfo.EndCursor))
				a.mu.Lock()
				a.coverage, a.eventReads = 0, 0
				a.mu.Unlock()
			}
			var got struct{ A, B sessions }
			c.MustPost(tc.query, &got, opts...)
			if len(got.A.Edges) != 1 {
				t.Fatalf("sessions = %+v, want one", got.A)
			}
			ev := got.A.Edges[0].Node.Events
			if ev.TotalCount == nil || *ev.TotalCount != 5 || len(ev.Edges) != tc.wantEdges {
				t.Errorf("events: totalCount %v, %d edges; want 5, %d", ev.TotalCount, len(ev.Edges), tc.wantEdges)
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.eventReads != tc.wantEventReads || a.coverage != tc.wantCoverage {
				t.Errorf("event reads %d, coverage reads %d; want %d, %d", a.eventReads, a.coverage, tc.wantEventReads, tc.wantCoverage)
			}
		})
	}
}

// An archive events read leaves out what the response does not show: the fields of the
// RestoreEvent fields selected (fragments included) are read, the others may stay zero; a
// field it does not know reads everything.
func TestArchiveEventsReadShownFields(t *testing.T) {
	t.Parallel()
	all := loaders.OmitEventID | loaders.OmitEventTimes | loaders.OmitEventDuration | loaders.OmitEventTitle | loaders.OmitEventMessage |
		loaders.OmitEventItemName | loaders.OmitEventItemType | loaders.OmitEventItemSize | loaders.OmitEventSource | loaders.OmitEventTarget
	for _, tc := range []struct {
		name, events string
		want         loaders.EventOmit
	}{
		{"the dashboard's", `edges { node { type status itemName itemSizeBytes } }`, all &^ (loaders.OmitEventItemName | loaders.OmitEventItemSize)},
		{"only a count", `totalCount`, all},
		{"ids and times", `edges { node { id startTime } }`, all &^ (loaders.OmitEventID | loaders.OmitEventTimes)},
		{"a fragment", `edges { node { ...f } }`, all &^ (loaders.OmitEventTitle | loaders.OmitEventMessage)},
		{"an inline fragment on Node", `edges { node { ... on Node { id } } }`, all &^ loaders.OmitEventID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newCountingArchive()
			c := client.New(archiveGateway(t, a))
			var got map[string]any
			q := `{ restoreSessions(first: 5) { edges { node { events(first: 10) { ` + tc.events + ` } } } } }`
			if strings.Contains(tc.events, "...f") {
				q += ` fragment f on RestoreEvent { title message }`
			}
			c.MustPost(q, &got)
			a.mu.Lock()
			defer a.mu.Unlock()
			if !slices.Equal(a.omits, []loaders.EventOmit{tc.want}) {
				t.Errorf("reads omitted %b, want [%b]", a.omits, tc.want)
			}
		})
	}
}

// A cursor from an archive read is refused by a live read, on Query.restoreSessions and on an
// organisation's, with an error naming why; a read that is not live continues with it.
func TestArchiveCursorLiveRefused(t *testing.T) {
	t.Parallel()
	c := client.New(archiveGateway(t, newCountingArchive()))
	var first struct {
		RestoreSessions struct{ PageInfo struct{ EndCursor *string } }
	}
	c.MustPost(`{ restoreSessions(first: 1) { pageInfo { endCursor } } }`, &first)
	after := first.RestoreSessions.PageInfo.EndCursor
	if after == nil {
		t.Fatal("the archive page has no endCursor")
	}
	var next map[string]any
	if err := c.Post(`query($after: String) { restoreSessions(first: 1, after: $after) { edges { cursor } } }`, &next, client.Var("after", *after)); err != nil {
		t.Fatalf("an archive read after its own cursor: %v", err)
	}
	for _, q := range []string{
		`query($after: String) { restoreSessions(first: 1, after: $after, live: true) { edges { cursor } } }`,
		`query($after: String) { organizations(first: 1) { edges { node { restoreSessions(first: 1, after: $after, live: true) { edges { cursor } } } } } }`,
	} {
		var got map[string]any
		err := c.Post(q, &got, client.Var("after", *after))
		if err == nil || !strings.Contains(err.Error(), errArchiveCursorLive) {
			t.Errorf("%s: err = %v, want %q", q, err, errArchiveCursorLive)
		}
	}
}
