package report

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Dimension is something the report groups by.
type Dimension string

// Dimensions, in the order columns appear.
const (
	ByTenant        Dimension = "TENANT"
	ByInitiatedBy   Dimension = "INITIATED_BY"
	ByClientMachine Dimension = "CLIENT_MACHINE"
	ByViaAddress    Dimension = "VIA_ADDRESS"
	ByOrganization  Dimension = "ORGANIZATION"
	ByType          Dimension = "TYPE"
	ByResult        Dimension = "RESULT"
	ByDay           Dimension = "DAY"
	// ByPerson is the person who started the sessions through the gateway (the watcher's
	// join of the restore action log); sessions from outside it group under no person.
	ByPerson Dimension = "PERSON"
)

// AllDimensions lists every dimension in column order.
var AllDimensions = []Dimension{ByTenant, ByInitiatedBy, ByClientMachine, ByViaAddress, ByOrganization, ByType, ByResult, ByDay, ByPerson}

// MaxRows bounds a report: more groups than this is an error asking for fewer dimensions or a
// shorter window, never unbounded memory.
const MaxRows = 100_000

// ErrTooManyRows is returned when a report would exceed MaxRows groups.
var ErrTooManyRows = fmt.Errorf("the report has more than %d rows: group by fewer dimensions or narrow from/to", MaxRows)

// Org identifies an organisation in a row.
type Org struct {
	// ID is the global ID (a detached organisation's when the archive knows only its name).
	ID string
	// Server and UpstreamID locate it ("" UpstreamID: detached, known by Name only).
	Server, UpstreamID string
	Name               string
}

// Row is one group. A dimension not grouped by is nil; one grouped by but not recorded on the
// sessions (no via address, say) is the empty string. Tenant, grouped by, is nil for sessions
// of organisations no tenant owns; Person, grouped by, is nil for sessions started outside the
// gateway.
type Row struct {
	Tenant        *string
	Person        *string
	InitiatedBy   *string
	ClientMachine *string
	ViaAddress    *string
	Organization  *Org
	Type          *model.RestoreSessionType
	Result        *model.RestoreSessionResult
	// Day is the UTC calendar day the sessions started, YYYY-MM-DD.
	Day            *string
	Sessions       int64
	Items          int64
	Bytes          int64
	FailedSessions int64
	// First and Last are the earliest and latest session start in the group.
	First, Last time.Time
}

type key struct {
	tenant, person, initiatedBy, machine, via, server, org, orgUpstream, orgName, typ, result, day string
}

// Aggregator groups sessions into rows. Not safe for concurrent use.
type Aggregator struct {
	dims     map[Dimension]bool
	tenantOf resolvers.TenantOf
	rows     map[key]*Row
	err      error
}

// ErrNoTenants: grouping by TENANT without a way to name an organisation's tenant.
var ErrNoTenants = errors.New("restore audit: grouping by TENANT needs the tenant directory")

// NewAggregator groups by dims (none: one total row). Unknown or repeated dimensions are errors,
// and so is ByTenant without tenantOf, which names each organisation's tenant (a session of an
// organisation it does not know groups under a nil tenant).
func NewAggregator(dims []Dimension, tenantOf resolvers.TenantOf) (*Aggregator, error) {
	a := &Aggregator{dims: map[Dimension]bool{}, tenantOf: tenantOf, rows: map[key]*Row{}}
	for _, d := range dims {
		if !slices.Contains(AllDimensions, d) {
			return nil, fmt.Errorf("groupBy: unknown dimension %q", d)
		}
		if a.dims[d] {
			return nil, fmt.Errorf("groupBy: %s given twice", d)
		}
		a.dims[d] = true
	}
	if a.dims[ByTenant] && tenantOf == nil {
		return nil, ErrNoTenants
	}
	return a, nil
}

// Group is sessions counted together that share the value of every dimension (a database
// GROUP BY); Add counts one session as a group of one.
type Group struct {
	Server, OrgID, OrgName                 string
	InitiatedBy, ClientMachine, ViaAddress string
	Type                                   upstream.RestoreSessionType
	Result                                 upstream.RestoreSessionResult
	// Person started the sessions through the gateway ("": outside it, or not decided yet).
	Person                         string
	Sessions, Items, Bytes, Failed int64
	// First and Last are the earliest and latest session start; the DAY dimension is First's.
	First, Last time.Time
}

// Add counts one session. After ErrTooManyRows, further sessions are ignored; Rows reports it.
func (a *Aggregator) Add(s *match.Session) {
	u := &s.Upstream
	ch := s.ClientHost()
	start := u.CreationTime.UTC()
	g := Group{Server: s.Server, OrgID: s.OrgID, OrgName: s.OrgName, InitiatedBy: u.InitiatedBy,
		ClientMachine: ch.MachineName, ViaAddress: ch.ViaAddress, Type: u.Type, Result: u.Result, Person: s.Attribution.Person,
		Sessions: 1, Items: s.Items, Bytes: s.Bytes, First: start, Last: start}
	if model.SessionResultFromVBO(u.Result) == model.RestoreSessionResultFailed {
		g.Failed = 1
	}
	a.AddGroup(g)
}

// AddGroup counts a group of sessions into the row its dimensions select.
func (a *Aggregator) AddGroup(g Group) {
	if a.err != nil {
		return
	}
	var k key
	if a.dims[ByTenant] {
		if t, ok := a.tenantOf(g.Server, g.OrgID); ok {
			k.tenant = t // tenant ids are never empty: "" is no tenant
		}
	}
	if a.dims[ByPerson] {
		k.person = g.Person // "" is no person: sessions from outside the gateway
	}
	if a.dims[ByInitiatedBy] {
		k.initiatedBy = g.InitiatedBy
	}
	if a.dims[ByClientMachine] {
		k.machine = g.ClientMachine
	}
	if a.dims[ByViaAddress] {
		k.via = g.ViaAddress
	}
	if a.dims[ByOrganization] {
		v := match.Session{Server: g.Server, OrgID: g.OrgID, OrgName: g.OrgName}
		k.server, k.org, k.orgUpstream, k.orgName = g.Server, v.OrgGlobalID(), g.OrgID, g.OrgName
	}
	if a.dims[ByType] {
		k.typ = string(model.SessionTypeFromVBO(g.Type))
	}
	if a.dims[ByResult] {
		k.result = string(model.SessionResultFromVBO(g.Result))
	}
	first, last := g.First.UTC(), g.Last.UTC()
	if a.dims[ByDay] {
		k.day = first.Format(time.DateOnly)
	}
	r := a.rows[k]
	if r == nil {
		if len(a.rows) >= MaxRows {
			a.err = ErrTooManyRows
			return
		}
		r = a.newRow(k)
		r.First, r.Last = first, last
		a.rows[k] = r
	}
	r.Sessions += g.Sessions
	r.Items += g.Items
	r.Bytes += g.Bytes
	r.FailedSessions += g.Failed
	if first.Before(r.First) {
		r.First = first
	}
	if last.After(r.Last) {
		r.Last = last
	}
}

func (a *Aggregator) newRow(k key) *Row {
	r := &Row{}
	str := func(d Dimension, v string) *string {
		if !a.dims[d] {
			return nil
		}
		return &v
	}
	if a.dims[ByTenant] && k.tenant != "" {
		r.Tenant = &k.tenant
	}
	if a.dims[ByPerson] && k.person != "" {
		r.Person = &k.person
	}
	r.InitiatedBy = str(ByInitiatedBy, k.initiatedBy)
	r.ClientMachine = str(ByClientMachine, k.machine)
	r.ViaAddress = str(ByViaAddress, k.via)
	r.Day = str(ByDay, k.day)
	if a.dims[ByOrganization] {
		r.Organization = &Org{ID: k.org, Server: k.server, UpstreamID: k.orgUpstream, Name: k.orgName}
	}
	if a.dims[ByType] {
		t := model.RestoreSessionType(k.typ)
		r.Type = &t
	}
	if a.dims[ByResult] {
		res := model.RestoreSessionResult(k.result)
		r.Result = &res
	}
	return r
}

// Rows returns the groups in a stable order: by each dimension in column order (no tenant
// first, then no person, organisations by name then ID), day ascending.
func (a *Aggregator) Rows() ([]Row, error) {
	if a.err != nil {
		return nil, a.err
	}
	keys := make([]key, 0, len(a.rows))
	for k := range a.rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y key) int {
		return cmp.Or(
			cmp.Compare(x.tenant, y.tenant),
			cmp.Compare(x.person, y.person),
			cmp.Compare(x.initiatedBy, y.initiatedBy),
			cmp.Compare(x.machine, y.machine),
			cmp.Compare(x.via, y.via),
			cmp.Compare(x.orgName, y.orgName),
			cmp.Compare(x.server, y.server),
			cmp.Compare(x.org, y.org),
			cmp.Compare(x.typ, y.typ),
			cmp.Compare(x.result, y.result),
			cmp.Compare(x.day, y.day),
		)
	})
	out := make([]Row, len(keys))
	for i, k := range keys {
		out[i] = *a.rows[k]
	}
	return out, nil
}

// Header is the grouped CSV's header row; grouped by TENANT, a "tenant" column leads it
// (CSVHeader). person is the gateway's attribution (grouped by PERSON; empty otherwise and for
// sessions from outside the gateway).
var Header = []string{"initiatedBy", "clientMachine", "viaAddress", "organizationId", "organizationName",
	"type", "result", "day", "person", "sessions", "items", "bytes", "failedSessions", "first", "last"}

// CSVHeader is the grouped CSV's header for a report grouped by groupBy: Header, led by
// "tenant" when grouped by TENANT (so a tenant's CSV, never grouped by it, is unchanged).
func CSVHeader(groupBy []model.RestoreAuditDimension) []string {
	if slices.Contains(groupBy, model.RestoreAuditDimensionTenant) {
		return append([]string{"tenant"}, Header...)
	}
	return slices.Clone(Header)
}

// Record is a row as CSV cells (Header's order, led by the tenant when tenant is set:
// CSVHeader's). Null dimensions are empty cells.
func (r *Row) Record(tenant bool) []string {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	var orgID, orgName, typ, res string
	if r.Organization != nil {
		orgID, orgName = r.Organization.ID, r.Organization.Name
	}
	if r.Type != nil {
		typ = string(*r.Type)
	}
	if r.Result != nil {
		res = string(*r.Result)
	}
	rec := []string{s(r.InitiatedBy), s(r.ClientMachine), s(r.ViaAddress), orgID, orgName, typ, res, s(r.Day), s(r.Person),
		strconv.FormatInt(r.Sessions, 10), strconv.FormatInt(r.Items, 10), strconv.FormatInt(r.Bytes, 10),
		strconv.FormatInt(r.FailedSessions, 10), r.First.UTC().Format(time.RFC3339Nano), r.Last.UTC().Format(time.RFC3339Nano)}
	if tenant {
		rec = append([]string{s(r.Tenant)}, rec...)
	}
	return rec
}

// DetailHeader is the per-session CSV's header row. throughGateway, person and displayName are
// the gateway's attribution; reason is the one given to the gateway for a session started
// through it, else the one VBO recorded (the Restore Portal's operator reason; VBO records none
// for the gateway's sessions, whose explore has no reason).
var DetailHeader = []string{"sessionId", "server", "organizationId", "organizationName", "name", "type", "state", "result",
	"startTime", "endTime", "initiatedBy", "clientHost", "clientMachine", "viaAddress", "reason",
	"throughGateway", "person", "displayName", "items", "bytes", "views", "exports", "sends", "saves", "restores"}

// DetailRecord is one session as CSV cells (DetailHeader's order).
func DetailRecord(s *match.Session) []string {
	u := &s.Upstream
	ch := s.ClientHost()
	end := ""
	if u.EndTime != nil {
		end = u.EndTime.UTC().Format(time.RFC3339Nano)
	}
	n := func(t model.RestoreEventType) string { return strconv.FormatInt(s.ItemsByEventType[t], 10) }
	a := &s.Attribution
	reason := u.Reason
	if a.ThroughGateway {
		reason = a.Reason
	}
	return []string{s.ID(), s.Server, s.OrgGlobalID(), s.OrgName, u.Name,
		string(model.SessionTypeFromVBO(u.Type)), string(model.SessionStateFromVBO(u.State)), string(model.SessionResultFromVBO(u.Result)),
		u.CreationTime.UTC().Format(time.RFC3339Nano), end, u.InitiatedBy, u.ClientHost, ch.MachineName, ch.ViaAddress, reason,
		strconv.FormatBool(a.ThroughGateway), a.Person, a.DisplayName,
		strconv.FormatInt(s.Items, 10), strconv.FormatInt(s.Bytes, 10),
		n(model.RestoreEventTypeView), n(model.RestoreEventTypeExport), n(model.RestoreEventTypeSend),
		n(model.RestoreEventTypeSave), n(model.RestoreEventTypeRestore)}
}

// Window checks a report window: from before to, at most maxSpan apart (0: no limit).
func Window(from, to time.Time, maxSpan time.Duration) error {
	if !from.Before(to) {
		return errors.New("from must be before to")
	}
	if maxSpan > 0 && to.Sub(from) > maxSpan {
		return fmt.Errorf("from and to are more than %s apart", maxSpan)
	}
	return nil
}
