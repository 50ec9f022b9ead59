package vbosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// This file serves the restore front door: POST Organizations/{id}/explore opens a restore
// session, POST {R}/Stop ends it, v8 GET {R}/Statistics counts its items. Sessions opened
// here are "explored": they carry the organisation's data tree (tree.go), are browsed by
// browse.go, and are closed by the simulator when idle past Options.RestoreIdleTimeout.

// Defaults of the restore options.
const (
	DefaultRestoreIdleTimeout = 30 * time.Minute
	DefaultMaxRestoreSessions = 10
)

// Event texts the simulator writes to an explored session (docs/vbo-sim.md lists them all).
const (
	EventTitleIdleStop = "Restore session stopped"
	EventMsgIdleStop   = "Restore session was stopped because it was inactive for %s"
)

// restoreRoute is one VBO operation under the restore front door.
type restoreRoute struct {
	method string
	tmpl   string // path after the version, with {param} segments
	vers   string // "" = every version, else e.g. "v8" or "v6,v7"
	h      func(*rcall)
	segs   []string
}

// rcall is one request to a restore route.
type rcall struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	q      map[string]string
	params []string
	route  restoreRoute
}

const rRestoreBase routeID = 1000

var restoreRoutes []restoreRoute

func init() {
	restoreRoutes = append(restoreRoutes,
		restoreRoute{method: http.MethodPost, tmpl: "/Organizations/{organizationId}/explore", h: (*rcall).explore},
		restoreRoute{method: http.MethodPost, tmpl: "/RestoreSessions/{restoreSessionId}/Stop", h: (*rcall).stop},
		restoreRoute{method: http.MethodGet, tmpl: "/RestoreSessions/{restoreSessionId}/Statistics", vers: "v8", h: (*rcall).statistics},
	)
	restoreRoutes = append(restoreRoutes, browseRoutes()...)
	restoreRoutes = append(restoreRoutes, actionRoutes()...)
	for i := range restoreRoutes {
		rr := &restoreRoutes[i]
		for _, p := range strings.Split(strings.Trim(rr.tmpl, "/"), "/") {
			if strings.HasPrefix(p, "{") {
				p = "*"
			}
			rr.segs = append(rr.segs, p)
		}
	}
}

// matchRestore resolves a restore route (segs exclude the version).
func (s *Server) matchRestore(method string, segs []string) (rt routeID, params []string, found, methodOK bool, allow string) {
	var allows []string
	var hit routeID
	var hitParams []string
	for i, rr := range restoreRoutes {
		if rr.vers != "" && !strings.Contains(rr.vers, s.ver) {
			continue
		}
		ps, ok := routePattern{segs: rr.segs}.params(segs)
		if !ok {
			continue
		}
		bad := false
		for k, p := range ps {
			if p == "" {
				bad = true
			}
			if u, err := url.PathUnescape(p); err == nil {
				ps[k] = u
			}
		}
		if bad {
			continue
		}
		// a literal segment beats a parameter ("mailboxes/search" vs "mailboxes/{id}")
		if rr.method == method || (rr.method == http.MethodGet && method == http.MethodHead) {
			if hit == 0 || len(ps) < len(hitParams) {
				hit, hitParams = rRestoreBase+routeID(i), ps
			}
		}
		allows = append(allows, rr.method)
	}
	if hit != 0 {
		return hit, hitParams, true, true, ""
	}
	if len(allows) > 0 {
		return 0, nil, true, false, strings.Join(allows, ", ")
	}
	return 0, nil, false, false, ""
}

// explored is the state of a restore session opened through explore.
type explored struct {
	org      int
	typ      uint8
	opts     exploreOptions
	user     string
	host     string
	last     time.Time // last request that touched the session (idle clock)
	restored int64
	failed   int64
	skipped  int64
	warnings []string
	items    []statItem
}

// exploreOptions is RESTExploreOptions (v6) / RESTOrganizationExploreOptions (v8).
type exploreOptions struct {
	DateTime        *time.Time `json:"dateTime,omitempty"`
	Type            *string    `json:"type,omitempty"`
	ShowDeleted     *bool      `json:"showDeleted,omitempty"`
	ShowAllVersions *bool      `json:"showAllVersions,omitempty"`
	RepositoryID    *string    `json:"repositoryId,omitempty"` // v8
}

// statistics is RESTRestoreSessionStatistics (v8).
type statistics struct {
	Total    int64      `json:"totalItemsCount"`
	Restored int64      `json:"restoredItemsCount"`
	Failed   int64      `json:"failedItemsCount"`
	Skipped  int64      `json:"skippedItemsCount"`
	Warnings []string   `json:"warnings"`
	Errors   []string   `json:"errors"`
	Items    []statItem `json:"items"`
}

// statItem is RESTItemRestoreDetailsComposed.
type statItem struct {
	ID       string   `json:"id,omitempty"`
	Type     string   `json:"itemRestoreDetailsType"` // RESTItemRestoreDetailsType
	Name     string   `json:"name,omitempty"`
	Title    string   `json:"title,omitempty"`
	ItemType string   `json:"itemType,omitempty"` // RESTRestoreItemType
	Status   string   `json:"status,omitempty"`   // RESTRestoreStatus
	Path     string   `json:"path,omitempty"`
	Error    string   `json:"error,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// ExploredSession describes a restore session opened through explore (ExploredSessions).
type ExploredSession struct {
	SessionID      string
	OrganizationID string
	Type           upstream.RestoreSessionType
	User           string // the token's user name: the session's initiatedBy
	ClientHost     string // the caller's address: the session's clientHost
	Open           bool
	LastActivity   time.Time
	ShowDeleted    bool
	RepositoryID   string
}

// ExploredSessions lists the sessions opened through explore, open or not.
func (s *Server) ExploredSessions() []ExploredSession {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]ExploredSession, 0, len(s.explored))
	for i, e := range s.explored {
		es := ExploredSession{SessionID: uuidString(s.all[i].id), OrganizationID: s.orgs[e.org].ID, Type: sessTypes[e.typ],
			User: e.user, ClientHost: e.host, Open: s.stateOf(i) == upstream.SessionStateWorking, LastActivity: e.last}
		if e.opts.ShowDeleted != nil {
			es.ShowDeleted = *e.opts.ShowDeleted
		}
		if e.opts.RepositoryID != nil {
			es.RepositoryID = *e.opts.RepositoryID
		}
		out = append(out, es)
	}
	return out
}

func (s *Server) restoreIdle() time.Duration {
	if s.opts.RestoreIdleTimeout > 0 {
		return s.opts.RestoreIdleTimeout
	}
	return DefaultRestoreIdleTimeout
}

func (s *Server) maxRestoreSessions() int {
	if s.opts.MaxRestoreSessions > 0 {
		return s.opts.MaxRestoreSessions
	}
	return DefaultMaxRestoreSessions
}

// reapIdle stops explored sessions idle past the limit, as VBO does. It runs at the start of
// every authorised request (so a fake clock drives it) and from ReapIdleRestoreSessions.
func (s *Server) reapIdle() int {
	now := s.clock()
	idle := s.restoreIdle()
	s.mu.RLock()
	due := false
	for i, e := range s.explored {
		if now.Sub(e.last) >= idle && s.stateOf(i) == upstream.SessionStateWorking {
			due = true
			break
		}
	}
	s.mu.RUnlock()
	if !due {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i, e := range s.explored {
		if now.Sub(e.last) >= idle && s.stateOf(i) == upstream.SessionStateWorking {
			s.stopLocked(i, upstream.SessionResultSuccess, EventTitleIdleStop, fmt.Sprintf(EventMsgIdleStop, idle))
			n++
		}
	}
	return n
}

// ReapIdleRestoreSessions stops the explored sessions idle past Options.RestoreIdleTimeout
// now and answers how many it stopped (requests do this on their own).
func (s *Server) ReapIdleRestoreSessions() int { return s.reapIdle() }

// openExplored counts explored sessions still Working. Callers hold s.mu.
func (s *Server) openExplored() int {
	n := 0
	for i := range s.explored {
		if s.stateOf(i) == upstream.SessionStateWorking {
			n++
		}
	}
	return n
}

// tokenUser is the user name in the request's (already verified) bearer token.
func tokenUser(r *http.Request) string {
	_, tok, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		User string `json:"unique_name"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.User
}

func clientHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// maxRequestBody bounds a VBO route's JSON body.
const maxRequestBody = 1 << 20

// decode reads a JSON body into v; an empty body leaves v alone. ok=false has answered 400.
func (c *rcall) decode(v any, required bool) bool {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, maxRequestBody+1))
	if err != nil {
		c.s.badRequest(c.w, "The request body could not be read.")
		return false
	}
	if len(b) > maxRequestBody {
		c.s.badRequest(c.w, "The request body is too large.")
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		if required {
			c.s.badRequest(c.w, "The request body is required.")
			return false
		}
		return true
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.s.badRequest(c.w, "The request is invalid: "+jsonErr(err))
		return false
	}
	return true
}

func jsonErr(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("the value of %s is not valid.", ute.Field)
	}
	return "the body is not valid JSON."
}

func (c *rcall) explore() {
	id := c.params[0]
	u, ok := parseUUID(id)
	if !ok {
		c.s.badRequest(c.w, fmt.Sprintf("The value '%s' is not valid for organizationId.", id))
		return
	}
	var o exploreOptions
	if !c.decode(&o, false) {
		return
	}
	if c.s.ver == "v6" {
		o.RepositoryID = nil
	}
	typ := uint8(0)
	if o.Type != nil {
		k := -1
		for j, t := range sessTypes {
			if string(t) == *o.Type {
				k = j
			}
		}
		if k < 0 {
			c.s.badRequest(c.w, fmt.Sprintf("The value '%s' is not valid for type. Valid values: Vex, Veod, Vesp, Vet.", *o.Type))
			return
		}
		typ = uint8(k)
	}
	if o.RepositoryID != nil {
		if _, ok := parseUUID(*o.RepositoryID); !ok {
			c.s.badRequest(c.w, fmt.Sprintf("The value '%s' is not valid for repositoryId.", *o.RepositoryID))
			return
		}
	}
	oi, ok := c.s.orgByID[u]
	if !ok {
		c.s.notFound(c.w, fmt.Sprintf("Organization with ID '%s' was not found.", id))
		return
	}
	if o.DateTime != nil && c.s.orgs[oi].FirstBackuptime != nil && o.DateTime.Before(*c.s.orgs[oi].FirstBackuptime) {
		c.s.badRequest(c.w, fmt.Sprintf("No restore points found for the organization '%s' at the specified point in time.", c.s.orgs[oi].Name))
		return
	}
	s := c.s
	now := s.clock().UTC()
	s.mu.Lock()
	if s.openExplored() >= s.maxRestoreSessions() {
		s.mu.Unlock()
		s.writeError(c.w, http.StatusBadRequest, fmt.Sprintf("Cannot start a new restore session: the maximum number of concurrent restore sessions (%d) has been reached. Stop one of the running restore sessions and try again.", s.maxRestoreSessions()), "OperationConflict")
		return
	}
	s.mu.Unlock()
	rs := s.AddSession(upstream.RestoreSession{Type: sessTypes[typ], Organization: s.orgs[oi].Name,
		InitiatedBy: tokenUser(c.r), ClientHost: clientHost(c.r), CreationTime: now})
	su, _ := parseUUID(rs.ID)
	s.mu.Lock()
	i, _ := s.findSession(su)
	s.all[i].org = int32(oi)
	if s.explored == nil {
		s.explored = map[int32]*explored{}
	}
	s.explored[i] = &explored{org: oi, typ: typ, opts: o, user: tokenUser(c.r), host: clientHost(c.r), last: s.clock()}
	out := s.sessionJSON(i)
	s.mu.Unlock()
	status := http.StatusOK
	if s.ver == "v8" {
		status = http.StatusCreated
	}
	s.writeJSON(c.w, status, out)
}

// session resolves {restoreSessionId}: an unknown one answers 404; with open, a stopped one or
// one not opened by explore answers 400. It touches the idle clock. Callers hold no lock.
func (c *rcall) session(open bool) (int32, *explored, bool) {
	id := c.params[0]
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.lookupSession(c.w, id)
	if !ok {
		return 0, nil, false
	}
	e := s.explored[i]
	if open && (e == nil || s.stateOf(i) != upstream.SessionStateWorking) {
		s.writeError(c.w, http.StatusBadRequest, fmt.Sprintf("Restore session with ID '%s' is not running.", id), "OperationConflict")
		return 0, nil, false
	}
	if e != nil {
		e.last = s.clock()
	}
	return i, e, true
}

func (c *rcall) stop() {
	s := c.s
	i, _, ok := c.session(false)
	if !ok {
		return
	}
	s.mu.Lock()
	if s.stateOf(i) != upstream.SessionStateWorking {
		s.mu.Unlock()
		s.writeError(c.w, http.StatusBadRequest, fmt.Sprintf("Restore session with ID '%s' is not running.", c.params[0]), "OperationConflict")
		return
	}
	s.stopLocked(i, upstream.SessionResultSuccess, "Restore session stopped", "Restore session stopped")
	s.mu.Unlock()
	if s.ver == "v8" {
		c.w.WriteHeader(http.StatusNoContent)
		return
	}
	c.w.Header().Del("Content-Type")
	c.w.WriteHeader(http.StatusOK)
}

func (c *rcall) statistics() {
	i, e, ok := c.session(false)
	if !ok {
		return
	}
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := statistics{Warnings: []string{}, Errors: []string{}, Items: []statItem{}}
	_ = i
	if e != nil {
		st.Restored, st.Failed, st.Skipped = e.restored, e.failed, e.skipped
		st.Total = e.restored + e.failed + e.skipped
		st.Warnings = append(st.Warnings, e.warnings...)
		st.Items = append(st.Items, e.items...)
		for _, it := range e.items {
			if it.Error != "" {
				st.Errors = append(st.Errors, it.Error)
			}
		}
	}
	s.writeJSON(c.w, http.StatusOK, st)
}

// appendEventLocked appends an event to session i (callers hold s.mu for writing); it bumps
// the session's eTag and notes the change on the v8 feed, like AddEvent.
func (s *Server) appendEventLocked(i int32, ev upstream.RestoreSessionEvent) {
	ec := s.eventContext(i)
	ev.Order = s.eventCount(i, &ec)
	ev.ID = uuidString(eventID(s, s.all[i].id, ev.Order))
	if ev.StartTime.IsZero() {
		ev.StartTime = s.clock().UTC().Truncate(100)
	}
	if ev.EndTime == nil {
		t := ev.StartTime
		ev.EndTime = &t
	}
	if ev.Duration == "" {
		ev.Duration = TimeSpan(ev.EndTime.Sub(ev.StartTime))
	}
	if ev.Status == "" {
		ev.Status = upstream.EventStatusSuccess
	}
	ls := s.liveFor(i)
	ls.events = append(ls.events, ev)
	ls.etag++
	s.noteChange(i)
}

// RestoreOperations lists the restore front door operations served for an API version
// ("v6", "v7", "v8"): path template after the version -> lower-case methods. The trimopenapi
// tool keeps exactly these (plus the base operations) in the contract test's documents.
func RestoreOperations(version string) map[string][]string {
	out := map[string][]string{}
	for _, rr := range restoreRoutes {
		if rr.vers != "" && !strings.Contains(rr.vers, version) {
			continue
		}
		out[rr.tmpl] = append(out[rr.tmpl], strings.ToLower(rr.method))
	}
	return out
}
