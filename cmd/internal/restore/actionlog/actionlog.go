// Package actionlog keeps the restore front door's attribution log: every step a person takes
// through the gateway (start, browse, search, stop, and later item actions), recorded before
// the upstream call and completed after. The log is append-only; each record carries the
// SHA-256 of the previous record of its tenant, so an edited or removed record breaks the
// chain (Verify). It also keeps the front door's gateway sessions (open/closed, last activity),
// which change and are therefore kept beside the chain, not in it. It owns the tables
// restore_action and restore_gateway_session.
package actionlog

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// errTODO marks a method whose code has not landed yet.
var errTODO = errors.New("actionlog: not implemented yet")

// ErrNotFound is returned (wrapped) for an unknown gateway session or record.
var ErrNotFound = errors.New("actionlog: not found")

// Kind is the step a record is about.
type Kind string

// Kinds. Issue 25 adds item actions (download, send, restoreTo, restoreToOriginal, approve).
const (
	KindStart  Kind = "START"
	KindBrowse Kind = "BROWSE"
	KindSearch Kind = "SEARCH"
	KindStop   Kind = "STOP"
	KindReap   Kind = "REAP" // stopped by the reaper (idle, or left by a crashed replica)
)

// Status is a step's outcome.
type Status string

// Statuses. A step is PENDING from Begin until Complete.
const (
	StatusPending   Status = "PENDING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
)

// Actor is who took a step, as the edge authenticated them.
type Actor struct {
	Person      string // JWT sub or API key name
	DisplayName string // JWT name/email claim, when present
	Role        string
	Tenant      string // "" for a provider admin
	ClientAddr  string
	UserAgent   string
	RequestID   string
}

// Entry is a step about to be taken (Begin).
type Entry struct {
	Actor            Actor
	Kind             Kind
	Reason           string // START: required; later steps may carry one
	Server           string
	OrganizationID   string
	GatewaySessionID string          // "" on START: Begin assigns it
	VBOSessionID     string          // known for every step after START
	Detail           json.RawMessage // what was asked: browse ref and page, search text, items, target...
}

// Outcome completes a step (Complete).
type Outcome struct {
	Status         Status
	UpstreamStatus int    // HTTP status VBO answered; 0 when no answer
	VBOSessionID   string // START: from VBO's explore answer, never guessed
	Error          string // a message safe to show to the tenant (no secrets)
	Detail         json.RawMessage
}

// Action is one step as read back: the begin record with its outcome merged.
type Action struct {
	ID               string // the begin record's id
	Position         int64  // per-tenant sequence of the begin record
	Kind             Kind
	Actor            Actor
	Reason           string
	Server           string
	OrganizationID   string
	GatewaySessionID string
	VBOSessionID     string
	Detail           json.RawMessage
	Status           Status
	UpstreamStatus   int
	Error            string
	OutcomeDetail    json.RawMessage
	At               time.Time // begun
	CompletedAt      *time.Time
}

// Session is a restore session started through the gateway.
type Session struct {
	ID             string // the gateway's id (the START record's id)
	Actor          Actor
	Reason         string
	Server         string
	OrganizationID string
	Type           string // EXCHANGE | ONEDRIVE | SHAREPOINT | TEAMS
	VBOSessionID   string // "" until VBO answered
	Open           bool
	Started        time.Time
	LastActivity   time.Time
	Closed         *time.Time
	Replica        string // the replica that opened it (the reaper closes those of dead replicas)
}

// Verification is the result of walking one tenant's chain.
type Verification struct {
	OK       bool
	Records  int64
	BrokenAt *int64 // position of the first record whose hash or link does not match
	Problem  string
}

// Log is the attribution log over the shared store.
type Log struct {
	st  *store.Store
	now func() time.Time
}

// New returns the log over st (already migrated).
func New(st *store.Store) (*Log, error) {
	if st == nil {
		return nil, errors.New("actionlog: nil store")
	}
	return &Log{st: st, now: time.Now}, nil
}

// Begin appends the record of a step about to be taken and returns it. For KindStart it also
// creates the gateway session (open, VBO id unknown) whose id is the record's id.
func (l *Log) Begin(ctx context.Context, e Entry) (Action, error) { return Action{}, errTODO }

// Complete appends the outcome of a begun step. For a successful START it sets the session's
// VBO id; for STOP/REAP (and a failed START) it closes the session. Any step touches the
// session's last activity.
func (l *Log) Complete(ctx context.Context, beginID string, o Outcome) (Action, error) {
	return Action{}, errTODO
}

// Session returns a gateway session by its id.
func (l *Log) Session(ctx context.Context, id string) (Session, error) { return Session{}, errTODO }

// SessionByVBO returns the gateway session that opened VBO session vboID on server.
func (l *Log) SessionByVBO(ctx context.Context, server, vboID string) (Session, error) {
	return Session{}, errTODO
}

// SessionsByVBO returns the gateway sessions of many VBO sessions at once (a loader's batch),
// keyed by server + "\x00" + VBO id; missing keys were not started through the gateway.
func (l *Log) SessionsByVBO(ctx context.Context, keys [][2]string) (map[[2]string]Session, error) {
	return nil, errTODO
}

// PendingStarts reports whether a START on server for organisation orgID is still waiting for
// VBO's answer (begun, not completed) and began after since: a session VBO lists meanwhile may
// be that one, so "started outside the gateway" must wait.
func (l *Log) PendingStarts(ctx context.Context, server, orgID string, since time.Time) (bool, error) {
	return false, errTODO
}

// OpenSessions counts a person's open gateway sessions (maxOpenSessionsPerPerson).
func (l *Log) OpenSessions(ctx context.Context, tenant, person string) (int, error) {
	return 0, errTODO
}

// IdleSessions lists open sessions whose last activity is before idleBefore, or opened by a
// replica not in alive (nil: ignore replicas).
func (l *Log) IdleSessions(ctx context.Context, idleBefore time.Time, alive []string) ([]Session, error) {
	return nil, errTODO
}

// Actions pages a gateway session's steps, oldest first, after position after (0: from the start).
func (l *Log) Actions(ctx context.Context, gatewaySessionID string, after int64, limit int) ([]Action, error) {
	return nil, errTODO
}

// Verify walks tenant's chain ("" = the provider admins' chain) and reports the first break.
func (l *Log) Verify(ctx context.Context, tenant string) (Verification, error) {
	return Verification{}, errTODO
}
