package resolvers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func ptr[T any](v T) *T { return &v }

// vboServer is a configured VBO server as the schema shows it.
func (r *Resolver) vboServer(name string) (*model.VboServer, error) {
	s, ok := r.Backend.Server(name)
	if !ok {
		return nil, ErrNotFound
	}
	return &model.VboServer{Name: s.Name, APIVersion: s.APIVersion}, nil
}

// visibleVBOServer is a VBO server the caller may see; any other reads as not found.
func (r *Resolver) visibleVBOServer(ctx context.Context, name string) (*model.VboServer, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.CanSeeServer(name) {
		return nil, ErrNotFound
	}
	return r.vboServer(name)
}

// orgConnection pages the in-scope organisations of servers (nil = all visible).
func (r *Resolver) orgConnection(ctx context.Context, only []string, nameContains string, first *int, after *string) (*model.OrganizationConnection, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkOffsetArgs(r.Cursors, first, after); err != nil {
		return nil, err
	}
	if err := r.checkServerFilter(p, only); err != nil {
		return nil, err
	}
	reportUnresolved(ctx, p, only)
	orgs := r.visibleOrgs(ctx, p, r.visibleServers(p, only), nameContains)
	from, to, err := offsetWindow(r.Cursors, len(orgs), first, after)
	if err != nil {
		return nil, err
	}
	conn := &model.OrganizationConnection{Edges: make([]*model.OrganizationEdge, 0, to-from), TotalCount: len(orgs)}
	for i := from; i < to; i++ {
		conn.Edges = append(conn.Edges, model.NewOrganizationEdge(orgs[i], r.Cursors, i+1))
	}
	conn.PageInfo = offsetPageInfo(from, to, len(orgs), conn.Edges)
	return conn, nil
}

func emptySessions() *model.RestoreSessionConnection {
	return &model.RestoreSessionConnection{Edges: []*model.RestoreSessionEdge{}, PageInfo: &model.PageInfo{}}
}

// orgRestoreSessions pages one organisation's sessions: a batched walk of its server's listing.
func (r *Resolver) orgRestoreSessions(ctx context.Context, org *model.Organization, first *int, after *string, filter *model.RestoreSessionFilter, live bool) (*model.RestoreSessionConnection, error) {
	akey, streamAfter, err := r.sessionsCursor(after, live)
	if err != nil {
		return nil, err
	}
	fromArchive := akey != nil
	size, w, cur, err := sessionArgs(r.Cursors, first, streamAfter, filter, []string{org.ServerName})
	if err != nil {
		return nil, err
	}
	if ambiguous, err := orgNameShared(ctx, org); err != nil || ambiguous {
		// Its sessions belong to no organisation (upstream.OrgJoin): say why the list is
		// empty, or that the server's organisations could not be read (fail closed).
		if err != nil {
			addServerError(ctx, err)
		} else if !org.Detached {
			graphql.AddError(ctx, &OrgNameAmbiguousError{Server: org.ServerName, OrgID: org.Upstream.ID})
		}
		return emptySessions(), nil
	}
	if akey != nil && akey.Server != org.ServerName {
		return nil, fmt.Errorf("%w: cursor names an unknown server", gid.ErrInvalid)
	}
	servers := []string{org.ServerName}
	if cov, ok := r.archiveCovers(ctx, servers, w, live); fromArchive || after == nil && ok {
		if fromArchive && cov == nil { // an archive cursor continues there even when not covered now
			cov = r.archiveCoverage(ctx)
		}
		names := orgNames{org.ServerName: {upstream.OrgNameKey(org.Upstream.Name): true}}
		conn, err := r.archiveSessions(ctx, servers, w, akey, size, sessionMatcher(names, sessionAttrs(filter)), names, filter, selects(ctx, "totalCount"), true)
		if err != nil {
			return nil, err
		}
		r.noteArchive(ctx, cov, servers)
		return conn, nil
	}
	r.noteLive(ctx, servers)
	var start *gid.Position
	if p, ok := cur[org.ServerName]; ok {
		start = &p
	}
	key := loaders.NewOrgSessionsKey(org.ServerName, org.Upstream.Name, w, start, size+1, sessionMatcher(nil, sessionAttrs(filter)))
	page, err := loaders.For(ctx).OrgRestoreSessions(ctx, key)
	if err != nil {
		addServerError(ctx, err)
		return emptySessions(), nil
	}
	return orgSessionsConnection(r.Cursors, org.ServerName, page, size, start != nil), nil
}

// orgSessionsConnection builds the connection of one organisation's sessions from a page that
// asked for one session more than size (to tell whether a next page exists).
func orgSessionsConnection(cursors *gid.Cursors, server string, page *loaders.SessionPage, size int, resumed bool) *model.RestoreSessionConnection {
	n := min(len(page.Sessions), size)
	conn := &model.RestoreSessionConnection{Edges: make([]*model.RestoreSessionEdge, 0, n),
		PageInfo: &model.PageInfo{HasNextPage: len(page.Sessions) > size, HasPreviousPage: resumed}, TotalCount: page.Total}
	for i := range n {
		conn.Edges = append(conn.Edges, model.NewServerSessionEdge(&model.RestoreSession{ServerName: server, Upstream: page.Sessions[i]},
			cursors, server, page.After[i]))
	}
	setEdgeCursors(conn)
	if page.Resume != nil {
		// The walk paused at its scan budget: more may follow, from where it stopped reading.
		conn.PageInfo.HasNextPage = true
		end := cursors.EncodeStream(gid.StreamCursor{server: *page.Resume})
		conn.PageInfo.EndCursor = &end
	}
	return conn
}

// sessionArgs validates a session connection's arguments: page size, the upstream time window,
// and a stream cursor that may only name the servers in allowed.
func sessionArgs(cursors *gid.Cursors, first *int, after *string, filter *model.RestoreSessionFilter, allowed []string) (int, loaders.Window, gid.StreamCursor, error) {
	size, err := pageSize(first)
	if err != nil {
		return 0, loaders.Window{}, nil, err
	}
	w, err := sessionWindow(filter)
	if err != nil {
		return 0, loaders.Window{}, nil, err
	}
	cur, err := decodeStream(cursors, after)
	if err != nil {
		return 0, loaders.Window{}, nil, err
	}
	if err := checkCursorServers(cur, allowed); err != nil {
		return 0, loaders.Window{}, nil, err
	}
	return size, w, cur, nil
}

// checkCursorServers rejects a stream cursor naming a server outside allowed: ignoring it would
// silently restart the walk from the top.
func checkCursorServers(cur gid.StreamCursor, allowed []string) error {
	for name := range cur {
		if !slices.Contains(allowed, name) {
			return fmt.Errorf("%w: cursor names an unknown server", gid.ErrInvalid)
		}
	}
	return nil
}

// setEdgeCursors sets pageInfo's start and end cursors to the first and last edges' own (the
// edges seal theirs on first use, once).
func setEdgeCursors(conn *model.RestoreSessionConnection) {
	if len(conn.Edges) > 0 {
		start, end := conn.Edges[0].Cursor(), conn.Edges[len(conn.Edges)-1].Cursor()
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
}

// mergedRestoreSessions pages sessions across servers, newest first. Its steps: check the
// arguments, parse the organisation filter, narrow the servers, map each server's in-scope
// organisation names (sessions name their organisation; scope works on ids), merge the servers'
// streams (loaders), and build the connection.
func (r *Resolver) mergedRestoreSessions(ctx context.Context, first *int, after *string, filter *model.RestoreSessionFilter, live bool) (*model.RestoreSessionConnection, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	akey, streamAfter, err := r.sessionsCursor(after, live)
	if err != nil {
		return nil, err
	}
	fromArchive := akey != nil
	size, w, cur, err := sessionArgs(r.Cursors, first, streamAfter, filter, r.visibleServers(p, nil))
	if err != nil {
		return nil, err
	}
	orgs, err := parseOrgFilter(filter)
	if err != nil {
		return nil, err
	}
	var only []string
	if filter != nil {
		only = filter.Servers
	}
	if err := r.checkServerFilter(p, only); err != nil {
		return nil, err
	}
	reportUnresolved(ctx, p, only)
	servers := orgs.narrow(r.visibleServers(p, only))
	var names orgNames
	if !p.SeesAll() || orgs != nil { // an admin without an organisation filter sees every session
		servers, names = r.inScopeOrgNames(ctx, p, servers, orgs)
	}
	if akey != nil && !slices.Contains(servers, akey.Server) {
		// The cursor's server left the query (its organisations unreadable now, or out of
		// scope): nothing of it is read, like a VBO cursor's server that is not walked.
		if !slices.Contains(r.visibleServers(p, nil), akey.Server) {
			return nil, fmt.Errorf("%w: cursor names an unknown server", gid.ErrInvalid)
		}
	}
	if cov, ok := r.archiveCovers(ctx, servers, w, live); fromArchive || after == nil && ok {
		if fromArchive && cov == nil { // an archive cursor continues there even when not covered now
			cov = r.archiveCoverage(ctx)
		}
		m := sessionMatcher(names, sessionAttrs(filter))
		if akey != nil && !slices.Contains(servers, akey.Server) {
			servers, m = append(slices.Clone(servers), akey.Server), withoutServer(m, akey.Server) // only to place the cursor
		}
		conn, err := r.archiveSessions(ctx, servers, w, akey, size, m, names, filter, selects(ctx, "totalCount"), false)
		if err != nil {
			return nil, err
		}
		r.noteArchive(ctx, cov, servers)
		return conn, nil
	}
	r.noteLive(ctx, servers)
	page := loaders.For(ctx).MergedRestoreSessions(ctx, servers, w, cur, size, sessionMatcher(names, sessionAttrs(filter)))
	for _, err := range page.Errors {
		addServerError(ctx, err)
	}
	return mergedConnection(r.Cursors, page, after != nil), nil
}

// orgIDFilter is filter.organizationIds by server: server -> lower-case upstream organisation
// id. nil means no organisation filter; an empty one matches nothing.
type orgIDFilter map[string]map[string]bool

// parseOrgFilter reads filter.organizationIds; a malformed id is a client error.
func parseOrgFilter(filter *model.RestoreSessionFilter) (orgIDFilter, error) {
	if filter == nil || filter.OrganizationIds == nil {
		return nil, nil
	}
	f := orgIDFilter{}
	for _, raw := range filter.OrganizationIds {
		id, err := gid.ParseKind(raw, gid.KindOrganization)
		if err != nil {
			return nil, err
		}
		if f[id.Server] == nil {
			f[id.Server] = map[string]bool{}
		}
		f[id.Server][strings.ToLower(id.Upstream)] = true
	}
	return f, nil
}

// narrow keeps the servers the filter names an organisation on (all of them without a filter).
func (f orgIDFilter) narrow(servers []string) []string {
	if f == nil {
		return servers
	}
	kept := servers[:0:0]
	for _, s := range servers {
		if f[s] != nil {
			kept = append(kept, s)
		}
	}
	return kept
}

// allows reports whether the filter lets an organisation (by upstream id) through.
func (f orgIDFilter) allows(server, orgID string) bool {
	return f == nil || f[server][strings.ToLower(orgID)]
}

// orgNames is, per server, the names (upstream.OrgNameKey) of the organisations whose sessions
// a caller may see: server -> name -> true. A name several organisations carry is never in it:
// its sessions belong to none of them (upstream.OrgJoin).
type orgNames map[string]map[string]bool

// inScopeOrgNames maps each server's organisations that are in the caller's scope and pass the
// organisation filter to their names. It returns the servers left with something to match (a
// server with nothing is not walked at all); servers whose organisations cannot be read are
// reported as partial-result errors and left out. An organisation whose name another of its
// server shares is left out with an ORG_NAME_AMBIGUOUS error (reportAmbiguousOrgs).
func (r *Resolver) inScopeOrgNames(ctx context.Context, p *auth.Principal, servers []string, f orgIDFilter) ([]string, orgNames) {
	names := orgNames{}
	var reachable []string
	for _, so := range loadOrgs(ctx, servers) {
		if so.err != nil {
			addServerError(ctx, so.err)
			continue
		}
		join, err := loaders.For(ctx).OrgJoin(ctx, so.server) // built once per server and request
		if err != nil {
			addServerError(ctx, err)
			continue
		}
		mine := map[string]bool{}
		for _, o := range so.orgs {
			if !p.CanSeeOrg(so.server, o.ID) || !f.allows(so.server, o.ID) {
				continue
			}
			if join.Ambiguous(o.Name) {
				// Withheld, and the caller told so (not which organisation shares the name).
				graphql.AddError(ctx, &OrgNameAmbiguousError{Server: so.server, OrgID: o.ID})
				continue
			}
			mine[upstream.OrgNameKey(o.Name)] = true
		}
		if len(mine) > 0 {
			reachable = append(reachable, so.server)
			names[so.server] = mine
		}
	}
	return reachable, names
}

// sessionMatcher combines the scope (names; nil = every organisation) and the attribute filter
// (attrs; nil = none) into the loaders' matcher; nil when neither applies.
func sessionMatcher(names orgNames, attrs func(*upstream.RestoreSession) bool) *loaders.Matcher {
	if names == nil && attrs == nil {
		return nil
	}
	return &loaders.Matcher{Fn: func(server string, s *upstream.RestoreSession) bool {
		if names != nil && !names[server][upstream.OrgNameKey(s.Organization)] {
			return false
		}
		return attrs == nil || attrs(s)
	}}
}

// mergedConnection builds the connection of a cross-server page. An empty page still carries
// an endCursor when the merge moved on (non-matching sessions read, a paused walk).
func mergedConnection(cursors *gid.Cursors, page *loaders.MergedPage, resumed bool) *model.RestoreSessionConnection {
	conn := &model.RestoreSessionConnection{Edges: make([]*model.RestoreSessionEdge, 0, len(page.Sessions)),
		PageInfo: &model.PageInfo{HasNextPage: page.HasNext, HasPreviousPage: resumed}, TotalCount: page.Total}
	for _, s := range page.Sessions {
		conn.Edges = append(conn.Edges, model.NewRestoreSessionEdge(&model.RestoreSession{ServerName: s.Server, Upstream: s.Session},
			cursors, s.Cursor))
	}
	setEdgeCursors(conn)
	if len(conn.Edges) == 0 && page.End != nil {
		end := cursors.EncodeStream(page.End)
		conn.PageInfo.EndCursor = &end
	}
	return conn
}

// loadVisibleEvent loads one event after checking its session is in scope.
func (r *Resolver) loadVisibleEvent(ctx context.Context, id gid.ID) (*model.RestoreEvent, error) {
	if _, err := r.loadVisibleSession(ctx, id.Server, id.Parent); err != nil {
		return nil, err
	}
	ev, err := loaders.For(ctx).RestoreSessionEvent(ctx, id.Server, id.Parent, id.Upstream)
	if err != nil {
		return nil, notFoundIfAbsent(err)
	}
	if !linksTo(ev.Links, id.Parent) {
		return nil, ErrNotFound // the event is another session's: the scope check above does not cover it
	}
	return &model.RestoreEvent{ServerName: id.Server, SessionID: id.Parent, Upstream: *ev}, nil
}

// linksTo reports whether an event's links (self, restoreSession) prove it belongs to the
// session. VBO should only serve a session's own events under its path; this does not rely on
// it. An event without such links proves nothing and is refused (fail closed): VBO's event
// representation carries a self link (v2-v6 documentation), so only a misbehaving server omits it.
func linksTo(links upstream.Links, sessionID string) bool {
	want := strings.ToLower("/RestoreSessions/" + sessionID)
	for name, l := range links {
		if !strings.EqualFold(name, "self") && !strings.EqualFold(name, "restoreSession") {
			continue
		}
		href := strings.ToLower(l.Href)
		if i := strings.Index(href, want); i >= 0 {
			if rest := href[i+len(want):]; rest == "" || rest[0] == '/' || rest[0] == '?' {
				return true
			}
		}
	}
	return false
}
