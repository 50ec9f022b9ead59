package cost

import (
	"math"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

// The upstream-call model: what each field costs in VBO calls, as the loaders read VBO. It
// assumes nothing is cached (a bound: the immutable cache and the listing TTL only lower the
// actual count).
//
//   - Organisation lists: one call per visible server, once per request, shared by every field
//     that needs organisations (Viewer.organizations, the organisation connections,
//     Query.organization, RestoreSession.organization, tenants' scope checks, and a scoped
//     Query.restoreAudit's check for organisation names that became ambiguous).
//   - Organization.restoreSessions: one walk of each server's session listing serves every
//     organisation of that server at that place in the query: min(organisations, servers)
//     walks, each at most 1 + ceil((scanBudget - firstListingPageSize) / listingPageSize)
//     calls (+1 when resuming from a cursor).
//   - Query.restoreSessions: one stream per server; a stream reads one page of first+1 sessions,
//     or, when the gateway filters (tenants, organisation ids, type/state/result/initiatedBy/
//     clientHost), up to the scan budget; +1 when resuming from a cursor.
//   - RestoreSession.events: one call per session (a page of up to eventsPageSize events);
//     with totalCount, ceil(eventsCounted / eventsPageSize) calls (+1 when the page lies beyond
//     what the count reads).
//   - A listing the restore watch's archive answers (Visible.Archive: it covers the window on
//     every server the caller sees, live is false, and after is none or an archive cursor):
//     no call, nor for its sessions' events (read from the archive too); the organisation
//     lists a tenant's scope needs are still read.
//   - Query.restoreSession, RestoreEvent.session: one call; Query.node: by the kind of the id
//     (an event costs its session and itself).
//   - The restore front door: startRestoreSession one call (VBO's Explore) after the
//     organisation lists; stopRestoreSession two (VBO's Stop and the stopped session read
//     back); each page of RestoreBrowser's roots and of RestoreItem.children one call, times
//     how many parents ask; attribution, its actions and verifyRestoreActionLog none (the
//     gateway's log). The item actions (downloadRestoreItems, sendRestoreItems,
//     restoreItemsTo, restoreItemsToOriginal) one call each after the organisation lists,
//     plus one per item id given (the read back of items VBO takes as objects; the kind is
//     sealed in the id); approveRestoreAction one (its pending action's item reads are not
//     known from the request: at most restore.maxItemsPerAction); pendingRestoreApprovals and
//     RestoreAction.events none.

// markerSlack is how many start/stop markers (type NONE) an events page asks for on top of
// what it returns, so the default itemsOnly filter rarely needs a second look.
const markerSlack = 2

// EventsLimit is the limit of the one events call for a page of first events: with a filter
// that at most hides the start/stop markers, first+1 (for hasNextPage) plus markerSlack; with a
// type or status filter, a full page. A page that does not fill from it ends early, with
// hasNextPage and an endCursor after what was read.
func EventsLimit(first int, selective bool, pageSize int) int {
	if selective {
		return pageSize
	}
	return min(first+1+markerSlack, pageSize)
}

// EventsCalls is the upstream calls one session's events field makes (uncached): one page, or,
// when totalCount is selected, the pages that count up to counted events plus the page itself
// when it lies beyond them.
func EventsCalls(first, after int, selective, total bool, p Paging) int {
	if !total {
		return 1
	}
	n := (p.EventsCounted + p.EventsPageSize - 1) / p.EventsPageSize
	if after+EventsLimit(first, selective, p.EventsPageSize) > p.EventsCounted {
		n++ // a session longer than what is counted: the page past the count is one more call
	}
	return n
}

// walkPages is the calls of one listing walk that reads up to the scan budget.
func (p Paging) walkPages() float64 {
	scan := p.ScanBudget
	if scan <= 0 {
		scan = UnboundedScan
	}
	first := p.ListingPageSize
	if p.FirstListingPageSize > 0 {
		first = min(first, p.FirstListingPageSize)
	}
	return 1 + math.Ceil(float64(max(scan-first, 0))/float64(p.ListingPageSize))
}

// visibleSize is the size of the lists bounded by what the caller sees; orgs says it is the
// organisation count.
func visibleSize(coord string, vis Visible) (size float64, ok, orgs bool) {
	switch coord {
	case "Viewer.organizations", "Query.organizations", "VboServer.organizations":
		return float64(vis.Organizations), true, true
	case "Query.servers", "RestoreAudit.coverage":
		return float64(vis.Servers), true, false
	}
	return 0, false, false
}

// calls is what one field costs in upstream calls, occurring mult times, and whether it needs
// the organisation lists.
func (w *walker) calls(coord string, f *ast.Field, def *ast.FieldDefinition, mult float64, target *ast.Definition) (float64, bool) {
	p := w.e.paging
	switch coord {
	case "Viewer.organizations", "Query.organizations", "VboServer.organizations",
		"Query.organization", "RestoreSession.organization":
		return 0, true
	case "Query.restoreAudit":
		// From the archive; a caller scoped to organisations is told which of them have a name
		// another organisation of their server shares, from the organisation lists.
		filter, _ := w.arg(f, def, "filter").(map[string]any)
		_, byOrg := filter["organizationIds"].([]any)
		return 0, w.vis.Tenant || byOrg
	case "Query.restoreSession", "RestoreEvent.session":
		return mult, w.vis.Tenant
	case "Mutation.startRestoreSession":
		// VBO's Explore; the organisation is found in the organisation lists first (scope).
		return mult, true
	case "Mutation.stopRestoreSession":
		// VBO's Stop, then the stopped session read back from VBO (a tenant's scope check
		// reads the organisation lists).
		return 2 * mult, w.vis.Tenant
	case "Mutation.downloadRestoreItems", "Mutation.sendRestoreItems", "Mutation.restoreItemsTo",
		"Mutation.restoreItemsToOriginal":
		// One VBO action each (a download's save when its link is fetched), after the
		// session's organisation is found in the organisation lists (its own domains), plus
		// one read per item for the items VBO takes as objects (OneDrive and SharePoint
		// documents and list items, Teams files: upstream/restore_items.go). The items' kind
		// is sealed in their ids, so every id given counts. A v8 restore's statistics reads
		// and a OneDrive target's lookup are not counted.
		return mult * float64(1+w.actionItemIDs(f, def)), true
	case "Mutation.approveRestoreAction":
		// The approved restore: one VBO action.
		return mult, false
	case "RestoreBrowser.mailboxes", "RestoreBrowser.oneDrives", "RestoreBrowser.sites", "RestoreBrowser.teams",
		"RestoreItem.children":
		// One VBO call per page, whatever its size; nested children multiply like other
		// nested lists (mult is how many parents ask).
		return mult, false
	case "Query.node":
		id, err := w.nodeID(f, def)
		if err != nil {
			return 0, false // the resolver refuses it before any call
		}
		switch id.Kind {
		case gid.KindOrganization:
			return 0, true
		case gid.KindRestoreSession:
			return mult, w.vis.Tenant
		case gid.KindRestoreEvent:
			return 2 * mult, w.vis.Tenant
		}
		return 0, false
	case "Organization.restoreSessions":
		if w.archiveServes(f, def) {
			return 0, false
		}
		pages := p.walkPages()
		if w.arg(f, def, "after") != nil {
			pages++
		}
		return min(mult, float64(w.vis.Servers)) * pages, false
	case "Query.restoreSessions":
		return w.mergedCalls(f, def, mult)
	case "RestoreSession.events":
		if w.archived {
			return 0, false // a session of an archive listing: its events are the archive's
		}
		first := intArg(w.arg(f, def, "first"), 50)
		after := 0
		if s, ok := w.arg(f, def, "after").(string); ok {
			// Cursors handed out are sealed (gid.Cursors): one that does not open here is
			// assumed to lie beyond what totalCount reads.
			after = math.MaxInt32 / 2
			if n, err := gid.DecodeOffset(s); err == nil {
				after = n
			}
		}
		total := w.selects(target, f.SelectionSet, "totalCount", map[string]bool{})
		return mult * float64(EventsCalls(first, after, selectiveEvents(w.arg(f, def, "filter")), total, p)), false
	}
	return 0, false
}

// mergedCalls is Query.restoreSessions: one stream per server in play.
func (w *walker) mergedCalls(f *ast.Field, def *ast.FieldDefinition, mult float64) (float64, bool) {
	lanes := float64(w.vis.Servers)
	filter, _ := w.arg(f, def, "filter").(map[string]any)
	gatewayFilter := w.vis.Tenant
	orgLists := w.vis.Tenant
	if names, ok := filter["servers"].([]any); ok {
		lanes = min(lanes, float64(distinct(names, func(v any) (string, bool) { s, ok := v.(string); return s, ok })))
	}
	if ids, ok := filter["organizationIds"].([]any); ok {
		gatewayFilter, orgLists = true, true
		lanes = min(lanes, float64(distinct(ids, func(v any) (string, bool) {
			s, _ := v.(string)
			id, err := gid.ParseKind(s, gid.KindOrganization)
			return id.Server, err == nil
		})))
	}
	for _, k := range []string{"types", "states", "results", "initiatedBy", "clientHost"} {
		if v, ok := filter[k]; ok && v != nil {
			gatewayFilter = true
		}
	}
	if w.archiveServes(f, def) {
		return 0, orgLists
	}
	pages := 1.0
	if gatewayFilter {
		pages = w.e.paging.walkPages()
	}
	if w.arg(f, def, "after") != nil {
		pages++
	}
	return mult * lanes * pages, orgLists
}

// archiveServes reports whether the restore watch's archive answers a session listing (the
// resolvers' rule, resolvers/archive.go): not with live, an archive cursor's next page always,
// another cursor's never, else when the archive covers the filter's window.
func (w *walker) archiveServes(f *ast.Field, def *ast.FieldDefinition) bool {
	a := w.vis.Archive
	if a == nil {
		return false
	}
	if live, _ := w.arg(f, def, "live").(bool); live {
		return false
	}
	if after := w.arg(f, def, "after"); after != nil {
		s, ok := after.(string)
		return ok && a.Continues(s)
	}
	filter, _ := w.arg(f, def, "filter").(map[string]any)
	from, ok1 := timeArg(filter["startTimeFrom"])
	to, ok2 := timeArg(filter["startTimeTo"])
	return ok1 && ok2 && a.Covers(from, to)
}

// timeArg reads a DateTime argument (nil: unset); ok is false for a value the resolvers refuse.
func timeArg(v any) (*time.Time, bool) {
	if v == nil {
		return nil, true
	}
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, false
	}
	t = t.UTC()
	return &t, true
}

// selectiveEvents reports whether an events filter may hide more than the start/stop markers.
func selectiveEvents(v any) bool {
	m, _ := v.(map[string]any)
	for _, k := range []string{"types", "statuses"} {
		if x, ok := m[k].([]any); ok && len(x) > 0 {
			return true
		}
	}
	return false
}

// nodeID decodes Query.node's id argument.
func (w *walker) nodeID(f *ast.Field, def *ast.FieldDefinition) (gid.ID, error) {
	s, _ := w.arg(f, def, "id").(string)
	return gid.Parse(s)
}

// nodeType is the object type Query.node answers with, when its id says.
func (w *walker) nodeType(f *ast.Field, def *ast.FieldDefinition) *ast.Definition {
	id, err := w.nodeID(f, def)
	if err != nil {
		return nil
	}
	return w.e.schema.Types[string(id.Kind)]
}

func distinct(list []any, key func(any) (string, bool)) int {
	seen := map[string]bool{}
	for _, v := range list {
		if k, ok := key(v); ok {
			seen[k] = true
		}
	}
	return len(seen)
}

func intArg(v any, def int) int {
	if f, ok := toFloat(v); ok {
		return int(max(0, min(f, math.MaxInt32)))
	}
	return def
}

// actionItemIDs is how many item ids an item action's input gives (0 when not known).
func (w *walker) actionItemIDs(f *ast.Field, def *ast.FieldDefinition) int {
	in, _ := w.arg(f, def, "input").(map[string]any)
	ids, _ := in["itemIds"].([]any)
	return len(ids)
}
