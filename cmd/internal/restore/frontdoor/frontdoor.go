// Package frontdoor is the restore front door (issue 24): restore sessions started, browsed and
// stopped through the gateway, every step recorded against the authenticated person in the
// attribution log (cmd/internal/restore/actionlog) before VBO is called and completed after
// (docs/restore-front-door.md). It implements resolvers.RestoreFrontDoor; the resolvers check
// the caller's scope first, and this package the rest: the role, the reason, the per-person
// limits (restore.stepsPerMinute, restore.maxOpenSessionsPerPerson), the record and the VBO
// call. The reaper (reaper.go) stops sessions idle past restore.idleTimeout or left open by a
// replica that is gone.
//
// VBO's Explore and Stop change VBO's state and are sent once (upstream's contract): a failure
// whose outcome is unknown is recorded as such, never retried, and VBO's session id is only ever
// the one in Explore's answer.
package frontdoor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/policy"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Log is the attribution log as the front door uses it (*actionlog.Log).
type Log interface {
	Begin(ctx context.Context, e actionlog.Entry) (actionlog.Action, error)
	Complete(ctx context.Context, beginID string, o actionlog.Outcome) (actionlog.Action, error)
	Session(ctx context.Context, id string) (actionlog.Session, error)
	SessionsByVBO(ctx context.Context, keys [][2]string) (map[[2]string]actionlog.Session, error)
	OpenSessions(ctx context.Context, tenant, person string) (int, error)
	IdleSessions(ctx context.Context, idleBefore time.Time, alive []string) ([]actionlog.Session, error)
	Actions(ctx context.Context, gatewaySessionID string, after int64, limit int) ([]actionlog.Action, error)
	Verify(ctx context.Context, tenant string) (actionlog.Verification, error)

	// The item actions (issue 25).
	Action(ctx context.Context, id string) (actionlog.Action, error)
	Approve(ctx context.Context, actionID string, approver actionlog.Actor) (actionlog.Action, error)
	AwaitingApproval(ctx context.Context, tenant string, after int64, limit int) ([]actionlog.Action, error)
	AwaitingApprovalAll(ctx context.Context, afterNS int64, afterID string, limit int) ([]actionlog.Action, error)
	PendingItemActions(ctx context.Context, before time.Time, limit int) ([]actionlog.Action, error)
	SessionItemActions(ctx context.Context, gatewaySessionID string, limit int) ([]actionlog.Action, error)
}

// Upstream is one VBO server's client as the front door uses it (*upstream.Client).
type Upstream interface {
	Explore(ctx context.Context, organizationID string, opts upstream.ExploreOptions) (*upstream.RestoreSession, *upstream.Response, error)
	StopRestoreSession(ctx context.Context, sessionID string) (*upstream.Response, error)
	Browse(ctx context.Context, sessionID string, ref upstream.BrowseRef, opts upstream.ListOptions) (*upstream.Page[upstream.BrowseItem], *upstream.Response, error)
	Search(ctx context.Context, sessionID string, ref upstream.BrowseRef, query string, opts upstream.ListOptions) (*upstream.Page[upstream.BrowseItem], *upstream.Response, error)
}

// Options configure the service.
type Options struct {
	// Log is the attribution log (required).
	Log Log
	// Server returns a VBO server's client by its config name (required).
	Server func(name string) (Upstream, bool)
	// MaxOpenSessionsPerPerson bounds the sessions one person holds open (default 3).
	MaxOpenSessionsPerPerson int
	// StepsPerMinute bounds one person's steps (default 120, burst a quarter of it).
	StepsPerMinute int
	// IdleTimeout: the reaper stops a session with no step for this long (default 30m).
	IdleTimeout time.Duration
	// ReapInterval is how often the reaper runs (default 1m).
	ReapInterval time.Duration
	// Alive lists the replicas alive now (the watch's heartbeats); the reaper stops the open
	// sessions of any other. nil: only idle sessions are reaped.
	Alive func(ctx context.Context) ([]string, error)
	// Self is this replica's identity (the one the log records; always counted alive).
	Self string
	// Logger receives the failures that cannot reach the caller (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// The item actions (issue 25, actions.go); without Policy they answer NOT_CONFIGURED.
	// Policy holds the rules (restore/policy).
	Policy *policy.Policy
	// Organizations returns an organisation's configured domains and Microsoft 365
	// credentials (restore.organizations[]), by server and VBO id or name.
	Organizations func(server, orgID, orgName string) (OrgSettings, bool)
	// Downloads issues the one-time download links (nil: downloads answer NOT_CONFIGURED);
	// the reaper sweeps its expired links.
	Downloads Downloads
	// StatisticsPolls and StatisticsInterval bound the follow-up of a v8 restore's outcome
	// (default 10 reads, 200ms apart).
	StatisticsPolls    int
	StatisticsInterval time.Duration
	// SettleGrace and SettleGiveUp: the reaper settles an item action still PENDING once it is
	// SettleGrace old (default 1m; longer than the statistics follow-up), and completes it
	// FAILED, outcome unknown, once SettleGiveUp old (default 6h) (settle.go).
	SettleGrace  time.Duration
	SettleGiveUp time.Duration
	// Events reads the archived VBO events of a session (nil: the reaper settles by VBO's
	// statistics alone).
	Events EventReader
}

// Service is the restore front door. Safe for concurrent use.
type Service struct {
	o        Options
	limiters *expirable.LRU[string, *rate.Limiter]
	seed     maphash.Seed
	starts   [64]sync.Mutex // one person's starts, one at a time (the open-session count)
}

var _ resolvers.RestoreFrontDoor = (*Service)(nil)

// New builds the service.
func New(o Options) (*Service, error) {
	if o.Log == nil || o.Server == nil {
		return nil, errors.New("frontdoor: a log and the servers are required")
	}
	if o.MaxOpenSessionsPerPerson <= 0 {
		o.MaxOpenSessionsPerPerson = 3
	}
	if o.StepsPerMinute <= 0 {
		o.StepsPerMinute = 120
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.ReapInterval <= 0 {
		o.ReapInterval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StatisticsPolls <= 0 {
		o.StatisticsPolls = defaultStatisticsPolls
	}
	if o.StatisticsInterval <= 0 {
		o.StatisticsInterval = defaultStatisticsInterval
	}
	if o.SettleGrace <= 0 {
		o.SettleGrace = defaultSettleGrace
	}
	if o.SettleGiveUp <= 0 {
		o.SettleGiveUp = defaultSettleGiveUp
	}
	if o.SettleGiveUp < o.SettleGrace {
		o.SettleGiveUp = o.SettleGrace
	}
	return &Service{o: o, limiters: expirable.NewLRU[string, *rate.Limiter](100_000, nil, 10*time.Minute), seed: maphash.MakeSeed()}, nil
}

// completeTimeout bounds recording a step's outcome once VBO has answered, whatever became of
// the caller's request.
const completeTimeout = 10 * time.Second

// exploreTypes maps the schema's session types to VBO's explore types.
var exploreTypes = map[model.RestoreSessionType]upstream.ExploreType{
	model.RestoreSessionTypeExchange:   upstream.ExploreExchange,
	model.RestoreSessionTypeOnedrive:   upstream.ExploreOneDrive,
	model.RestoreSessionTypeSharepoint: upstream.ExploreSharePoint,
	model.RestoreSessionTypeTeams:      upstream.ExploreTeams,
}

// Start opens a restore session: it checks the actor's role and reason, its limits, records the
// START, calls VBO's Explore once and records VBO's answer (its session id, or the failure).
func (s *Service) Start(ctx context.Context, a resolvers.RestoreActor, req resolvers.RestoreStart) (*upstream.RestoreSession, *resolvers.GatewaySession, error) {
	if err := resolvers.CheckRestoreRole(a.Role, "start restore sessions"); err != nil {
		return nil, nil, err
	}
	if err := resolvers.CheckRestoreReason(req.Reason); err != nil {
		return nil, nil, err
	}
	typ, ok := exploreTypes[req.Type]
	if !ok {
		return nil, nil, &model.InputError{Msg: "must be EXCHANGE, ONEDRIVE, SHAREPOINT or TEAMS", Field: "input.type"}
	}
	c, ok := s.o.Server(req.Server)
	if !ok {
		return nil, nil, resolvers.ErrNotFound
	}
	if err := s.allow(a); err != nil {
		return nil, nil, err
	}
	// The count and the START's record (which opens the gateway session) go together: two
	// starts of one person on this replica cannot both pass the limit.
	mu := &s.starts[s.slot(a)]
	mu.Lock()
	open, err := s.o.Log.OpenSessions(ctx, a.Tenant, a.Person)
	if err != nil {
		mu.Unlock()
		return nil, nil, err
	}
	if open >= s.o.MaxOpenSessionsPerPerson {
		mu.Unlock()
		return nil, nil, &resolvers.LimitError{Msg: fmt.Sprintf("you hold %d open restore sessions, the most one person may (restore.maxOpenSessionsPerPerson): stop one first", open)}
	}
	summary := fmt.Sprintf("start a %s session of organisation %s", req.Type, req.OrganizationID)
	if req.PointInTime != nil {
		summary += " at " + req.PointInTime.UTC().Format(time.RFC3339)
	} else {
		summary += " at the latest restore point"
	}
	if req.ShowDeleted {
		summary += ", showing deleted items"
	}
	begin, err := s.o.Log.Begin(ctx, actionlog.Entry{Actor: actorOf(a), Kind: actionlog.KindStart, Reason: req.Reason,
		Server: req.Server, OrganizationID: req.OrganizationID, SessionType: string(req.Type),
		Detail: detail(map[string]any{"summary": summary, "type": req.Type, "pointInTime": req.PointInTime, "showDeleted": req.ShowDeleted})})
	mu.Unlock()
	if err != nil {
		return nil, nil, fmt.Errorf("frontdoor: record the start: %w", err)
	}
	vs, resp, err := c.Explore(ctx, req.OrganizationID, upstream.ExploreOptions{Type: typ, DateTime: req.PointInTime, ShowDeleted: req.ShowDeleted})
	if err == nil && (vs == nil || vs.ID == "") {
		err = &upstream.ActionError{Outcome: upstream.OutcomeUnknown, Err: errors.New("VBO answered the explore without a session id")}
	}
	out := outcome(resp, err)
	if err == nil {
		out.VBOSessionID = vs.ID
	}
	if _, cerr := s.complete(ctx, begin.ID, out); cerr != nil {
		if err == nil {
			// VBO opened a session the log cannot show: stop it rather than leave it unrecorded.
			s.stopUnrecorded(ctx, c, req.Server, vs.ID)
		}
		return nil, nil, fmt.Errorf("frontdoor: record the start's outcome: %w", cerr)
	}
	if err != nil {
		return nil, nil, err
	}
	return vs, &resolvers.GatewaySession{ID: begin.GatewaySessionID, Server: req.Server, OrganizationID: req.OrganizationID,
		Type: req.Type, VBOSessionID: vs.ID, Person: a.Person, DisplayName: a.DisplayName, Tenant: a.Tenant, Reason: req.Reason,
		Open: true, LastActivity: s.o.Now()}, nil
}

// stopUnrecorded stops a VBO session whose start could not be recorded (best effort, logged).
func (s *Service) stopUnrecorded(ctx context.Context, c Upstream, server, vboID string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	_, err := c.StopRestoreSession(sctx, vboID)
	s.o.Logger.ErrorContext(ctx, "restore front door: the log could not record a started session; stopped it in VBO",
		"server", server, "vbo_session", vboID, "stop_err", err)
}

// Stop stops an open gateway session: it records the STOP, calls VBO's Stop once and records
// VBO's answer; the session is closed in the log whatever VBO answered. A session already
// closed answers nil without a VBO call.
func (s *Service) Stop(ctx context.Context, a resolvers.RestoreActor, gs *resolvers.GatewaySession) error {
	if err := resolvers.CheckRestoreRole(a.Role, "stop restore sessions"); err != nil {
		return err
	}
	if err := s.allow(a); err != nil {
		return err
	}
	return s.stop(ctx, actorOf(a), gs, actionlog.KindStop, "", "stop the session")
}

// stop records a STOP or REAP of gs, stops it in VBO and records the answer.
func (s *Service) stop(ctx context.Context, actor actionlog.Actor, gs *resolvers.GatewaySession, kind actionlog.Kind, reason, summary string) error {
	c, ok := s.o.Server(gs.Server)
	if !ok {
		return resolvers.ErrNotFound
	}
	begin, err := s.o.Log.Begin(ctx, actionlog.Entry{Actor: actor, Kind: kind, Reason: reason, GatewaySessionID: gs.ID,
		Detail: detail(map[string]any{"summary": summary})})
	switch {
	case errors.Is(err, actionlog.ErrSessionClosed):
		return nil // stopped meanwhile: answered as it is
	case errors.Is(err, actionlog.ErrNotFound):
		return resolvers.ErrNotFound
	case err != nil:
		return fmt.Errorf("frontdoor: record the %s: %w", kind, err)
	}
	var resp *upstream.Response
	if gs.VBOSessionID == "" {
		err = errors.New("VBO never answered this session's start: there is no VBO session id to stop (VBO closes an idle session on its own)")
	} else {
		resp, err = c.StopRestoreSession(ctx, gs.VBOSessionID)
	}
	out := outcome(resp, err)
	if _, cerr := s.complete(ctx, begin.ID, out); cerr != nil {
		return fmt.Errorf("frontdoor: record the %s's outcome: %w", kind, cerr)
	}
	if err != nil && gs.VBOSessionID != "" {
		return err
	}
	return nil
}

// Browse lists one page of a collection (search "": browse; else VBO's search): recorded as a
// BROWSE or SEARCH step before VBO is asked, completed with what it answered.
func (s *Service) Browse(ctx context.Context, a resolvers.RestoreActor, gs *resolvers.GatewaySession, ref upstream.BrowseRef, search string, offset, limit int) ([]upstream.BrowseItem, error) {
	if err := resolvers.CheckRestoreRole(a.Role, "browse restore sessions"); err != nil {
		return nil, err
	}
	c, ok := s.o.Server(gs.Server)
	if !ok || gs.VBOSessionID == "" || !gs.Open {
		return nil, resolvers.ErrNotFound
	}
	if err := s.allow(a); err != nil {
		return nil, err
	}
	kind := actionlog.KindBrowse
	summary := describe(ref) + fmt.Sprintf(", offset %d, limit %d", offset, limit)
	d := map[string]any{"ref": ref, "offset": offset, "limit": limit}
	if search != "" {
		kind = actionlog.KindSearch
		summary = fmt.Sprintf("search %s for %q", describe(ref), search) + fmt.Sprintf(", offset %d, limit %d", offset, limit)
		d["search"] = search
	}
	d["summary"] = summary
	begin, err := s.o.Log.Begin(ctx, actionlog.Entry{Actor: actorOf(a), Kind: kind, GatewaySessionID: gs.ID, Detail: detail(d)})
	switch {
	case errors.Is(err, actionlog.ErrSessionClosed), errors.Is(err, actionlog.ErrNotFound):
		return nil, resolvers.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("frontdoor: record the %s: %w", kind, err)
	}
	opts := upstream.ListOptions{Offset: offset, Limit: limit}
	var page *upstream.Page[upstream.BrowseItem]
	var resp *upstream.Response
	if search == "" {
		page, resp, err = c.Browse(ctx, gs.VBOSessionID, ref, opts)
	} else {
		page, resp, err = c.Search(ctx, gs.VBOSessionID, ref, search, opts)
	}
	out := outcome(resp, err)
	var items []upstream.BrowseItem
	if err == nil && page != nil {
		items = page.Results
		out.Detail = detail(map[string]any{"entries": len(items)})
	}
	if _, cerr := s.complete(ctx, begin.ID, out); cerr != nil {
		return nil, fmt.Errorf("frontdoor: record the %s's outcome: %w", kind, cerr)
	}
	if err != nil {
		if cur, serr := s.o.Log.Session(ctx, gs.ID); serr == nil && !cur.Open {
			// Stopped while VBO was asked (its stop raced this page): answered like a
			// browse of a stopped session, not as VBO's failure (recorded as it was).
			return nil, resolvers.ErrNotFound
		}
		return nil, err
	}
	return items, nil
}

// complete records a step's outcome, even when the caller's request has ended meanwhile.
func (s *Service) complete(ctx context.Context, beginID string, o actionlog.Outcome) (actionlog.Action, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	return s.o.Log.Complete(cctx, beginID, o)
}

// Session reads a gateway session by its id.
func (s *Service) Session(ctx context.Context, id string) (*resolvers.GatewaySession, error) {
	gs, err := s.o.Log.Session(ctx, id)
	if errors.Is(err, actionlog.ErrNotFound) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return gatewaySession(gs), nil
}

// SessionsByVBO reads the gateway sessions of VBO sessions.
func (s *Service) SessionsByVBO(ctx context.Context, keys [][2]string) (map[[2]string]*resolvers.GatewaySession, error) {
	got, err := s.o.Log.SessionsByVBO(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[[2]string]*resolvers.GatewaySession, len(got))
	for k, gs := range got {
		out[k] = gatewaySession(gs)
	}
	return out, nil
}

// Actions pages a gateway session's steps.
func (s *Service) Actions(ctx context.Context, gatewaySessionID string, after int64, limit int) ([]*model.RestoreAction, error) {
	list, err := s.o.Log.Actions(ctx, gatewaySessionID, after, limit)
	return actionModels(list), err
}

// actionModels maps the log's actions.
func actionModels(list []actionlog.Action) []*model.RestoreAction {
	out := make([]*model.RestoreAction, len(list))
	for i, a := range list {
		out[i] = actionModel(a)
	}
	return out
}

// Verify checks a tenant's chain.
func (s *Service) Verify(ctx context.Context, tenant string) (*model.RestoreActionLogVerification, error) {
	v, err := s.o.Log.Verify(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := &model.RestoreActionLogVerification{Ok: v.OK, Records: v.Records, BrokenAt: v.BrokenAt}
	if tenant != "" {
		out.Tenant = &tenant
	}
	if v.Problem != "" {
		p := v.Problem
		out.Problem = &p
	}
	return out, nil
}

// allow takes one step from the person's budget (restore.stepsPerMinute).
func (s *Service) allow(a resolvers.RestoreActor) error {
	key := a.Tenant + "\x00" + a.Person
	lim, ok := s.limiters.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(s.o.StepsPerMinute)), max(1, s.o.StepsPerMinute/4))
		s.limiters.Add(key, lim)
	}
	r := lim.ReserveN(s.o.Now(), 1)
	if d := r.DelayFrom(s.o.Now()); d > 0 {
		r.CancelAt(s.o.Now())
		return &resolvers.LimitError{Msg: fmt.Sprintf("too many restore steps (restore.stepsPerMinute is %d per person): retry in %ds",
			s.o.StepsPerMinute, int64((d+time.Second-1)/time.Second)), RetryAfter: d}
	}
	return nil
}

// slot is the start lock of a person.
func (s *Service) slot(a resolvers.RestoreActor) int {
	return int(maphash.String(s.seed, a.Tenant+"\x00"+a.Person) % uint64(len(s.starts)))
}

func actorOf(a resolvers.RestoreActor) actionlog.Actor {
	return actionlog.Actor{Person: a.Person, DisplayName: a.DisplayName, Role: string(a.Role), Tenant: a.Tenant,
		ClientAddr: a.ClientAddr, UserAgent: a.UserAgent, RequestID: a.RequestID}
}

func gatewaySession(gs actionlog.Session) *resolvers.GatewaySession {
	return &resolvers.GatewaySession{ID: gs.ID, Server: gs.Server, OrganizationID: gs.OrganizationID, Type: model.RestoreSessionType(gs.Type),
		VBOSessionID: gs.VBOSessionID, Person: gs.Actor.Person, DisplayName: gs.Actor.DisplayName, Tenant: gs.Actor.Tenant,
		Reason: gs.Reason, Open: gs.Open, LastActivity: gs.LastActivity}
}

// outcome is what VBO answered, as the log records it: the HTTP status, and for a failure a
// message safe to show the tenant (never VBO's own text) saying whether VBO may have acted.
func outcome(resp *upstream.Response, err error) actionlog.Outcome {
	o := actionlog.Outcome{Status: actionlog.StatusSucceeded}
	if resp != nil && resp.Response != nil {
		o.UpstreamStatus = resp.StatusCode
	}
	if err == nil {
		return o
	}
	o.Status = actionlog.StatusFailed
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.StatusCode != 0 {
		o.UpstreamStatus = ue.StatusCode
	}
	_, msg := resolvers.Classify(err)
	var ae *upstream.ActionError
	switch {
	case errors.As(err, &ae) && ae.Outcome == upstream.OutcomeUnknown:
		msg = actionlog.UnknownOutcome + " (VBO may have acted; not retried): " + msg
	case errors.As(err, &ae) && ae.Outcome == upstream.OutcomeNotSent:
		// VBO never had the action: a status is another call's (an item read back before it,
		// the token's), not its answer to the action.
		o.UpstreamStatus = 0
		msg = "not sent to VBO: " + msg
	case errors.As(err, &ae) && ae.Outcome == upstream.OutcomeRefused:
		msg = "refused by VBO: " + msg
	case ue == nil && msg == "internal error":
		msg = err.Error()
	}
	o.Error = msg
	return o
}

// detail is a step's detail as JSON.
func detail(v map[string]any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// collectionNames say what a collection lists, for the summaries.
var collectionNames = map[upstream.BrowseKind]string{
	upstream.BrowseMailboxes: "mailboxes", upstream.BrowseMailFolders: "mail folders", upstream.BrowseMailItems: "mail items",
	upstream.BrowseOneDrives: "OneDrives", upstream.BrowseDriveFolders: "OneDrive folders", upstream.BrowseDriveDocuments: "OneDrive documents",
	upstream.BrowseSites: "sites", upstream.BrowseSiteLibraries: "site libraries", upstream.BrowseSiteLists: "site lists",
	upstream.BrowseSiteFolders: "site folders", upstream.BrowseSiteDocuments: "site documents", upstream.BrowseSiteItems: "site list items",
	upstream.BrowseTeams: "teams", upstream.BrowseChannels: "channels", upstream.BrowsePosts: "posts", upstream.BrowseTeamFiles: "team files",
}

// describe says which collection ref is, for people: e.g. "mail items of mailbox M, folder F".
func describe(ref upstream.BrowseRef) string {
	what := collectionNames[ref.Kind]
	if what == "" {
		what = string(ref.Kind)
	}
	if ref.ContainerID != "" {
		what += " of " + containerNames[ref.Kind] + " " + ref.ContainerID
	}
	if ref.ParentID != "" {
		what += ", under " + ref.ParentID
	}
	return what
}

var containerNames = map[upstream.BrowseKind]string{
	upstream.BrowseMailFolders: "mailbox", upstream.BrowseMailItems: "mailbox",
	upstream.BrowseDriveFolders: "OneDrive", upstream.BrowseDriveDocuments: "OneDrive",
	upstream.BrowseSites: "site", upstream.BrowseSiteLibraries: "site", upstream.BrowseSiteLists: "site",
	upstream.BrowseSiteFolders: "site", upstream.BrowseSiteDocuments: "site", upstream.BrowseSiteItems: "site",
	upstream.BrowseChannels: "team", upstream.BrowsePosts: "team", upstream.BrowseTeamFiles: "team",
}

// actionKinds maps the log's kinds to the schema's.
var actionKinds = map[actionlog.Kind]model.RestoreActionKind{
	actionlog.KindStart: model.RestoreActionKindStart, actionlog.KindBrowse: model.RestoreActionKindBrowse,
	actionlog.KindSearch: model.RestoreActionKindSearch, actionlog.KindStop: model.RestoreActionKindStop,
	actionlog.KindReap: model.RestoreActionKindReap, actionlog.KindDownload: model.RestoreActionKindDownload,
	actionlog.KindSend: model.RestoreActionKindSend, actionlog.KindRestoreTo: model.RestoreActionKindRestoreTo,
	actionlog.KindRestoreToOriginal: model.RestoreActionKindRestoreToOriginal, actionlog.KindApprove: model.RestoreActionKindApprove,
}

var actionStatuses = map[actionlog.Status]model.RestoreActionStatus{
	actionlog.StatusPending: model.RestoreActionStatusPending, actionlog.StatusSucceeded: model.RestoreActionStatusSucceeded,
	actionlog.StatusFailed: model.RestoreActionStatusFailed,
	// A partial item action did something: SUCCEEDED, its counts say what failed.
	actionlog.StatusPartial: model.RestoreActionStatusSucceeded, actionlog.StatusPendingApproval: model.RestoreActionStatusPending,
}

// actionModel maps a recorded step to the schema.
func actionModel(a actionlog.Action) *model.RestoreAction {
	kind, ok := actionKinds[a.Kind]
	if !ok {
		kind = model.RestoreActionKindUnknown
	}
	status, ok := actionStatuses[a.Status]
	if !ok {
		status = model.RestoreActionStatusPending
	}
	var d struct {
		Summary string `json:"summary"`
	}
	_ = json.Unmarshal(a.Detail, &d)
	if d.Summary == "" {
		d.Summary = string(a.Kind)
	}
	role := model.Role(a.Actor.Role)
	if !role.IsValid() {
		role = model.RoleTenantAuditor // never recorded: the front door's roles are all valid
	}
	m := &model.RestoreAction{ID: a.ID, Position: a.Position, Kind: kind, Person: a.Actor.Person, DisplayName: opt(a.Actor.DisplayName),
		Role: role, Reason: opt(a.Reason), ClientAddress: opt(a.Actor.ClientAddr), UserAgent: opt(a.Actor.UserAgent),
		RequestID: opt(a.Actor.RequestID), Server: a.Server, Summary: d.Summary, Status: status, Error: opt(a.Error),
		StartTime: a.At, EndTime: a.CompletedAt}
	if a.UpstreamStatus > 0 {
		n := a.UpstreamStatus
		m.UpstreamStatus = &n
	}
	m.VBOSessionID = a.VBOSessionID
	m.Items = make([]*model.RestoreActionItem, 0, len(a.Items))
	for _, it := range a.Items {
		kind := model.RestoreItemKind(it.Type)
		if !kind.IsValid() {
			kind = model.RestoreItemKindMailItem
		}
		m.Items = append(m.Items, &model.RestoreActionItem{UpstreamID: it.ID, Kind: kind, Name: opt(it.Name)})
	}
	switch {
	case a.Target != "":
		m.Target = opt(a.Target)
	case len(a.Recipients) > 0:
		m.Target = opt(strings.Join(a.Recipients, ", "))
	}
	if c := a.Counts; c != nil {
		m.Counts = &model.RestoreCounts{Created: int(c.Created), Merged: int(c.Merged), Skipped: int(c.Skipped), Failed: int(c.Failed)}
	}
	if a.Kind == actionlog.KindDownload && a.CompletedAt != nil {
		b := a.Bytes
		m.Bytes = &b
		m.Sha256 = opt(a.SHA256)
	}
	if a.Approval != nil {
		m.ApprovedBy = opt(a.Approval.Actor.Person)
	}
	j := joinInput(a) // the same approval fields the reaper joins events with
	m.NeedsApproval, m.ApprovedAt = j.NeedsApproval, j.ApprovedAt
	return m
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
