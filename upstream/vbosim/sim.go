// Package vbosim is an in-process simulator of the Veeam Backup for Microsoft 365 (VBO / VBM365)
// REST API, versions v6, v7 and v8, restricted to the operations the gateway uses: token,
// Organizations, RestoreSessions and restore session Events. It serialises with the wire types
// of package upstream so the client and the simulator share one wire model.
//
// Data is generated deterministically from Options.Seed and Options.Name. Sessions are kept in a
// compact form and events are never stored: they are regenerated from (seed, session id, order)
// on every request, so a server with a million sessions stays small. Only run-time mutations
// (AddSession, AddEvent, StopSession, SetLargeSession) are stored.
//
// See docs/vbo-sim.md for the wire behaviour and the /_sim control endpoints.
package vbosim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Options configures a simulated server. The zero value is usable.
type Options struct {
	APIVersion string // "v6" (default), "v7", "v8"
	Username   string // default "admin"
	Password   string // default "password"
	Seed       int64  // deterministic data
	// Name is the server name; it is mixed into the seed so that servers with different names
	// get distinct organisations (distinct ids and names).
	Name     string
	Orgs     int // default 8
	Sessions int // default 400; spread over the 90 days before Now and over all orgs
	// Now anchors generated times; zero means time.Now().UTC().Truncate(time.Minute).
	Now time.Time
	// TokenLifetime is the access-token lifetime (expires_in); default 1h.
	TokenLifetime time.Duration
	// RefreshTokenLifetime is how long refresh tokens stay usable; default 14 days.
	RefreshTokenLifetime time.Duration
	// MaxEventsPerSession caps generated event counts (default 60); SetLargeSession overrides it
	// for one session.
	MaxEventsPerSession int
	// Clock is the real-time clock used for token expiry and live mutations (default time.Now).
	// Tests may inject a fake clock.
	Clock func() time.Time
	// Faults is the initial fault configuration (see SetFaults).
	Faults Faults
	// ChangeFeed configures the v8 change feed, GET /v8/Events (changes.go).
	ChangeFeed ChangeFeedOptions
	// RestoreIdleTimeout closes a restore session opened through explore once no request has
	// touched it for this long (Clock time); default DefaultRestoreIdleTimeout (30 min).
	RestoreIdleTimeout time.Duration
	// MaxRestoreSessions caps the explored sessions open at once on this server; explore past
	// it answers 400 (default DefaultMaxRestoreSessions).
	MaxRestoreSessions int
	// LargeItemBytes is the size of the generated body of a save/export whose item is named
	// in LargeItems (default 1 GiB); bodies are streamed, never held in memory.
	LargeItemBytes int64
}

// Stats counts requests that reached a VBO route, keyed by "METHOD /vN/Template" using the
// OpenAPI path templates, e.g. "GET /v6/RestoreSessions/{restoreSessionId}/Events".
type Stats struct {
	Total int            `json:"total"`
	Calls map[string]int `json:"calls"`
}

// Server is one simulated VBO REST API server. It implements http.Handler.
type Server struct {
	opts    Options
	ver     string // "v6"
	seed    uint64
	now     time.Time
	clock   func() time.Time
	signKey []byte

	orgs    []orgData
	orgByID map[[16]byte]int

	mu      sync.RWMutex // guards all, order, byID, live, nAdded
	all     []csess
	order   []int32 // indices into all, newest first
	byID    []int32 // indices into all, sorted by id
	live    map[int32]*liveSess
	nAdded  uint64
	tokMu   sync.Mutex
	refresh map[string]refreshEntry

	fMu    sync.Mutex
	faults Faults
	frng   *rand.Rand

	sMu   sync.Mutex
	stats Stats

	feed *changeFeed // v8 only (changes.go)

	explored map[int32]*explored // sessions opened through explore (restore.go); guarded by mu
	treeMu   sync.Mutex
	trees    map[int]*OrgTree // generated data trees by organisation index (tree.go)
	actMu    sync.Mutex
	acts     actionLog // restore actions performed (actions.go)
}

// New builds a server. Generation cost is roughly linear in Orgs+Sessions
// (1,000,000 sessions take about a second and ~50 MB).
func New(opts Options) *Server {
	if opts.APIVersion == "" {
		opts.APIVersion = "v6"
	}
	if opts.Username == "" {
		opts.Username = "admin"
	}
	if opts.Password == "" {
		opts.Password = "password"
	}
	if opts.Orgs <= 0 {
		opts.Orgs = 8
	}
	if opts.Sessions < 0 {
		opts.Sessions = 0
	} else if opts.Sessions == 0 {
		opts.Sessions = 400
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC().Truncate(time.Minute)
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.RefreshTokenLifetime <= 0 {
		opts.RefreshTokenLifetime = 14 * 24 * time.Hour
	}
	if opts.MaxEventsPerSession <= 0 {
		opts.MaxEventsPerSession = 60
	}
	if opts.MaxEventsPerSession < 3 {
		opts.MaxEventsPerSession = 3
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{
		opts:    opts,
		ver:     normVersion(opts.APIVersion),
		seed:    splitmix(uint64(opts.Seed)) ^ hashString(opts.Name),
		now:     opts.Now.UTC(),
		clock:   opts.Clock,
		live:    map[int32]*liveSess{},
		refresh: map[string]refreshEntry{},
		faults:  opts.Faults,
		stats:   Stats{Calls: map[string]int{}},
	}
	s.signKey = randomBytes(32)
	s.feed = newChangeFeed(s.ver, s.signKey, opts.ChangeFeed)
	s.frng = rand.New(rand.NewPCG(s.seed, uint64(time.Now().UnixNano())))
	s.genOrgs(opts.Orgs)
	s.genSessions(opts.Sessions)
	return s
}

func normVersion(v string) string {
	switch v {
	case "v7", "7", "V7":
		return "v7"
	case "v8", "8", "V8":
		return "v8"
	}
	return "v6"
}

// APIVersion returns "v6", "v7" or "v8".
func (s *Server) APIVersion() string { return s.ver }

// Now returns the anchor time used for generated data.
func (s *Server) Now() time.Time { return s.now }

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options { return s.opts }

// Organizations returns all organisations in server order, as served (with _links; with the
// extended-view fields isBackedup/firstBackuptime/lastBackuptime).
func (s *Server) Organizations() []upstream.Organization {
	out := make([]upstream.Organization, len(s.orgs))
	for i := range s.orgs {
		out[i] = s.orgJSON(i, true)
	}
	return out
}

// Sessions returns all sessions newest first by creationTime (ties by id). With a million
// sessions this materialises a million structs; prefer Session or HTTP paging.
func (s *Server) Sessions() []upstream.RestoreSession {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]upstream.RestoreSession, len(s.order))
	for k, i := range s.order {
		out[k] = s.sessionJSON(i)
	}
	return out
}

// Session returns one session by id.
func (s *Server) Session(id string) (upstream.RestoreSession, bool) {
	u, ok := parseUUID(id)
	if !ok {
		return upstream.RestoreSession{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.findSession(u)
	if !ok {
		return upstream.RestoreSession{}, false
	}
	return s.sessionJSON(i), true
}

// Events returns all events of a session in order (nil for an unknown session).
func (s *Server) Events(sessionID string) []upstream.RestoreSessionEvent {
	u, ok := parseUUID(sessionID)
	if !ok {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.findSession(u)
	if !ok {
		return nil
	}
	ec := s.eventContext(i)
	total := s.eventCount(i, &ec)
	out := make([]upstream.RestoreSessionEvent, 0, total)
	for k := 0; k < total; k++ {
		out = append(out, s.eventJSON(i, &ec, k))
	}
	return out
}

// Stats returns a copy of the call counters.
func (s *Server) Stats() Stats {
	s.sMu.Lock()
	defer s.sMu.Unlock()
	c := make(map[string]int, len(s.stats.Calls))
	for k, v := range s.stats.Calls {
		c[k] = v
	}
	return Stats{Total: s.stats.Total, Calls: c}
}

// ResetStats zeroes the call counters.
func (s *Server) ResetStats() {
	s.sMu.Lock()
	s.stats = Stats{Calls: map[string]int{}}
	s.sMu.Unlock()
}

// Calls returns the counter for one key, e.g. "GET /v6/RestoreSessions".
func (s *Server) Calls(key string) int {
	s.sMu.Lock()
	defer s.sMu.Unlock()
	return s.stats.Calls[key]
}

func (s *Server) count(key string) {
	s.sMu.Lock()
	s.stats.Total++
	s.stats.Calls[key]++
	s.sMu.Unlock()
}

// ---- live mutation ----

// ErrNotFound is returned by mutations for an unknown session id.
var ErrNotFound = errors.New("vbosim: restore session not found")

// ErrStopped is returned when mutating a session that has already stopped.
var ErrStopped = errors.New("vbosim: restore session is stopped")

func (s *Server) liveFor(i int32) *liveSess {
	ls := s.live[i]
	if ls == nil {
		ls = &liveSess{genEvents: -1}
		s.live[i] = ls
	}
	return ls
}

// AddSession adds a session at run time. Empty fields get defaults: a fresh id, creationTime =
// Clock(), type Vex, the matching explorer name, the first organisation's name, state Working
// (Stopped when EndTime is set), result Success. The session gets a start-marker event (order 0).
// The filled-in session is returned and appears in listings at its creationTime position.
func (s *Server) AddSession(sess upstream.RestoreSession) upstream.RestoreSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nAdded++
	var id [16]byte
	if u, ok := parseUUID(sess.ID); ok {
		id = u
	} else {
		id = uuidFrom(rand.New(rand.NewPCG(s.seed^0xadd, s.nAdded)))
	}
	for {
		if _, dup := s.findSession(id); !dup {
			break
		}
		id = uuidFrom(rand.New(rand.NewPCG(s.seed^0xadd, s.nAdded<<20|uint64(len(s.all)))))
		s.nAdded++
	}
	sess.ID = uuidString(id)
	if sess.CreationTime.IsZero() {
		sess.CreationTime = s.clock()
	}
	sess.CreationTime = sess.CreationTime.UTC().Truncate(100)
	if sess.Type == "" {
		sess.Type = upstream.SessionTypeExchange
	}
	if sess.Name == "" {
		sess.Name = explorerNames[typeIndex(sess.Type)]
	}
	orgIdx := 0
	if sess.Organization == "" && len(s.orgs) > 0 {
		sess.Organization = s.orgs[0].Name
	}
	for k := range s.orgs {
		if s.orgs[k].Name == sess.Organization {
			orgIdx = k
			break
		}
	}
	if sess.State == "" {
		sess.State = upstream.SessionStateWorking
		if sess.EndTime != nil {
			sess.State = upstream.SessionStateStopped
		}
	}
	if sess.Result == "" {
		sess.Result = upstream.SessionResultSuccess
	}
	sess.Links, sess.ETag = nil, nil
	stored := sess
	c := csess{id: id, created: sess.CreationTime.UnixNano(), org: int32(orgIdx), typ: typeIndex(sess.Type),
		result: resultIndex(sess.Result), working: sess.State != upstream.SessionStateStopped, added: true}
	idx := int32(len(s.all))
	s.all = append(s.all, c)
	pos, _ := slices.BinarySearchFunc(s.order, idx, s.cmpOrder)
	s.order = slices.Insert(s.order, pos, idx)
	pos, _ = slices.BinarySearchFunc(s.byID, id, func(e int32, t [16]byte) int { return compareID(s.all[e].id, t) })
	s.byID = slices.Insert(s.byID, pos, idx)
	ls := s.liveFor(idx)
	ls.sess = &stored
	t := sess.CreationTime
	ls.events = append(ls.events, upstream.RestoreSessionEvent{
		ID: uuidString(eventID(s, id, 0)), Type: upstream.EventTypeNone, Status: upstream.EventStatusSuccess,
		StartTime: t, EndTime: &t, Duration: "00:00:00", Title: "Restore session started", Message: "Restore session started",
	})
	s.noteChange(idx)
	return s.sessionJSON(idx)
}

func compareID(a, b [16]byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// AddEvent appends an event to a session with the next order. Empty fields get defaults: id,
// startTime = Clock(), type Restore, status Success, a message. Adding to a stopped session
// fails with ErrStopped.
func (s *Server) AddEvent(sessionID string, ev upstream.RestoreSessionEvent) (upstream.RestoreSessionEvent, error) {
	u, ok := parseUUID(sessionID)
	if !ok {
		return ev, ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.findSession(u)
	if !ok {
		return ev, ErrNotFound
	}
	if s.stateOf(i) == upstream.SessionStateStopped {
		return ev, ErrStopped
	}
	ec := s.eventContext(i)
	ev.Order = s.eventCount(i, &ec)
	ev.ID = uuidString(eventID(s, u, ev.Order))
	if ev.StartTime.IsZero() {
		ev.StartTime = s.clock()
	}
	ev.StartTime = ev.StartTime.UTC()
	if ev.Type == "" {
		ev.Type = upstream.EventTypeRestore
	}
	if ev.Status == "" {
		ev.Status = upstream.EventStatusSuccess
	}
	if ev.Message == "" {
		ev.Message = fmt.Sprintf("Item %q was processed", ev.ItemName)
	}
	if ev.EndTime != nil && ev.Duration == "" {
		ev.Duration = TimeSpan(ev.EndTime.Sub(ev.StartTime))
	}
	ev.Links = nil
	ls := s.liveFor(i)
	ls.events = append(ls.events, ev)
	ls.etag++
	s.noteChange(i)
	return s.eventJSON(i, &ec, ev.Order), nil
}

func (s *Server) stateOf(i int32) upstream.RestoreSessionState {
	if ls := s.live[i]; ls != nil {
		if ls.sess != nil {
			return ls.sess.State
		}
		if ls.stopAt != nil {
			return upstream.SessionStateStopped
		}
	}
	if s.all[i].working {
		return upstream.SessionStateWorking
	}
	return upstream.SessionStateStopped
}

// StopSession moves a Working session to Stopped with the given result (empty = Success),
// sets endTime to Clock() and appends a stop-marker event. The generated "Running" item of a
// generated session finishes with the same result.
func (s *Server) StopSession(sessionID string, result upstream.RestoreSessionResult) error {
	u, ok := parseUUID(sessionID)
	if !ok {
		return ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.findSession(u)
	if !ok {
		return ErrNotFound
	}
	if s.stateOf(i) == upstream.SessionStateStopped {
		return ErrStopped
	}
	s.stopLocked(i, result, "Restore session stopped", "Restore session stopped")
	return nil
}

// stopLocked stops session i with result (empty = Success) and appends the stop-marker event
// with title and message. Callers hold s.mu for writing and have checked it is Working.
func (s *Server) stopLocked(i int32, result upstream.RestoreSessionResult, title, msg string) {
	u := s.all[i].id
	if result == "" {
		result = upstream.SessionResultSuccess
	}
	ec := s.eventContext(i)
	order := s.eventCount(i, &ec)
	t := s.clock().UTC().Truncate(100)
	ls := s.liveFor(i)
	if ls.sess != nil {
		ls.sess.State, ls.sess.Result, ls.sess.EndTime = upstream.SessionStateStopped, result, &t
	} else {
		ls.stopAt, ls.stopRes = &t, result
	}
	ls.etag++
	ls.events = append(ls.events, upstream.RestoreSessionEvent{
		ID: uuidString(eventID(s, u, order)), Type: upstream.EventTypeNone, Status: upstream.RestoreEventStatus(result),
		StartTime: t, EndTime: &t, Duration: "00:00:00", Title: title, Message: msg, Order: order,
	})
	s.noteChange(i)
}

// SetLargeSession makes one session have exactly `events` generated events (including the
// start marker and, for stopped sessions, the stop marker), e.g. 10,000. They are generated
// lazily like all others. Events added at run time come after them (for sessions added with
// AddSession, call it before AddEvent: it renumbers later events). Unknown ids are ignored.
func (s *Server) SetLargeSession(sessionID string, events int) {
	u, ok := parseUUID(sessionID)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.findSession(u)
	if !ok {
		return
	}
	ls := s.liveFor(i)
	if ls.sess != nil {
		// added sessions keep their stored start marker; generate the remainder after it
		events--
	}
	ls.genEvents = int32(max(events, 1))
	if ls.sess == nil && !s.all[i].working && events < 2 {
		ls.genEvents = 2
	}
}

// ---- materialisation (callers hold s.mu) ----

func (s *Server) sessionJSON(i int32) upstream.RestoreSession {
	var rs upstream.RestoreSession
	ls := s.live[i]
	if ls != nil && ls.sess != nil {
		rs = *ls.sess
	} else {
		rs = s.genSession(i)
	}
	if ls != nil && ls.stopAt != nil {
		t := *ls.stopAt
		rs.State, rs.Result, rs.EndTime = upstream.SessionStateStopped, ls.stopRes, &t
	}
	if s.ver == "v8" {
		e := int64(1)
		if ls != nil {
			e += ls.etag
		}
		rs.ETag = &e
	}
	p := "/" + s.ver + "/RestoreSessions/" + rs.ID
	rs.Links = upstream.Links{"self": {Href: p}, "events": {Href: p + "/Events"}}
	return rs
}

// eventCount is generated + stored events. For added sessions the stored start marker comes
// first, then any generated events (SetLargeSession), then the rest of the stored ones.
func (s *Server) eventCount(i int32, ec *eventCtx) int {
	n := ec.n
	if ls := s.live[i]; ls != nil {
		n += len(ls.events)
	}
	return n
}

func (s *Server) eventJSON(i int32, ec *eventCtx, k int) upstream.RestoreSessionEvent {
	ls := s.live[i]
	var ev upstream.RestoreSessionEvent
	switch {
	case ls != nil && ls.sess != nil: // added: [stored marker][generated...][stored rest]
		switch {
		case k == 0:
			ev = ls.events[0]
		case k <= ec.n:
			ev = s.genEvent(ec, k)
		default:
			ev = ls.events[k-ec.n]
		}
	case k < ec.n:
		ev = s.genEvent(ec, k)
	default:
		ev = ls.events[k-ec.n]
	}
	ev.Order = k
	sid := uuidString(ec.c.id)
	ev.Links = upstream.Links{
		"self":           {Href: "/" + s.ver + "/RestoreSessions/" + sid + "/Events/" + ev.ID},
		"restoreSession": {Href: "/" + s.ver + "/RestoreSessions/" + sid},
	}
	return ev
}

func (s *Server) orgJSON(i int, extended bool) upstream.Organization {
	o := s.orgs[i].Organization
	if !extended {
		o.IsBackedup, o.FirstBackuptime, o.LastBackuptime = nil, nil, nil
	}
	o.Links = upstream.Links{"self": {Href: "/" + s.ver + "/Organizations/" + o.ID}}
	return o
}
