// Package actionlog keeps the restore front door's attribution log: every step a person takes
// through the gateway (start, browse, search, stop, and later item actions), recorded before
// the upstream call and completed after. The log is append-only; each record carries the
// SHA-256 of the previous record of its tenant, so an edited or removed record breaks the
// chain (Verify). It also keeps the front door's gateway sessions (open/closed, last activity),
// which change and are therefore kept beside the chain, not in it. It owns the tables
// restore_action and restore_gateway_session (and restore_chain_head, each chain's head).
//
// # The chain
//
// restore_action holds one row per begin record (Begin) and one per outcome record (Complete,
// naming its begin in ref_id), and for a START whose answer was lost the claim that matched it
// to VBO's session later (ClaimSession, claim.go: a CLAIM row naming the START in ref_id); rows
// are only ever inserted. Each tenant ("" = the provider
// admins) has its own chain: positions 1, 2, 3... with no gaps, each row carrying prev_hash (the
// hex SHA-256 of the tenant's previous row, "" for position 1) and hash (the hex SHA-256 of
// the row's canonical encoding, see record.encode: length-prefixed (name, value) pairs in a
// fixed order, times in Unix nanoseconds). A step on a gateway session goes on the session's
// chain, whoever takes it, so a session's steps are ordered by position.
//
// Appends to one chain serialise on its head row (restore_chain_head), locked by an UPDATE at
// the start of the appending transaction: two replicas on one PostgreSQL wait for each other,
// SQLite's single writer orders them anyway, and UNIQUE (tenant, position) stops a fork from
// committing. The gateway session a record changes is written in the same transaction.
//
// Verify walks a chain in position order and reports the first edited, removed, swapped or
// forged record. It cannot tell a chain rewritten from some position on, hashes recomputed,
// from the original: anchoring the head elsewhere (a report, a webhook) would.
package actionlog

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// Errors callers branch on (returned wrapped).
var (
	// ErrNotFound: an unknown gateway session or record, or one of another tenant.
	ErrNotFound = errors.New("actionlog: not found")
	// ErrInvalid: an entry or outcome the log refuses (the message names the field).
	ErrInvalid = errors.New("actionlog: invalid")
	// ErrCompleted: the step already has its outcome (Complete appends one per step).
	ErrCompleted = errors.New("actionlog: step already completed")
	// ErrSessionClosed: a step on a gateway session that is closed.
	ErrSessionClosed = errors.New("actionlog: gateway session closed")
	// ErrDuplicate: Begin with an idempotency key this person already used for the same step;
	// the Action returned beside it is the first one, nothing was appended.
	ErrDuplicate = errors.New("actionlog: idempotency key already used")
	// ErrKeyReused: the idempotency key was used for another request (kind, session, items,
	// target, recipients or destructiveness): refused.
	ErrKeyReused = errors.New("actionlog: idempotency key used for another action")
	// ErrSelfApproval: the requester tried to approve their own action.
	ErrSelfApproval = errors.New("actionlog: an action cannot be approved by its requester")
	// ErrApprovalExpired: the action waited for approval past its ApprovalUntil.
	ErrApprovalExpired = errors.New("actionlog: approval expired")
	// ErrNotAwaitingApproval: approving an action that needs none, is approved or is completed.
	ErrNotAwaitingApproval = errors.New("actionlog: action is not awaiting approval")
	// ErrNotApproved: completing successfully an action still awaiting approval.
	ErrNotApproved = errors.New("actionlog: action not approved")
)

// Kind is the step a record is about.
type Kind string

// Kinds. Issue 25 adds item actions (download, send, restoreTo, restoreToOriginal, approve).
const (
	KindStart  Kind = "START"
	KindBrowse Kind = "BROWSE"
	KindSearch Kind = "SEARCH"
	KindStop   Kind = "STOP"
	KindReap   Kind = "REAP" // stopped by the reaper (idle, or left by a crashed replica)

	// Item actions (issue 25), each on a gateway session.
	KindDownload          Kind = "DOWNLOAD"            // save/export, streamed to the person
	KindSend              Kind = "SEND"                // mailed to Recipients
	KindRestoreTo         Kind = "RESTORE_TO"          // restored/copied to Target, in the same organisation
	KindRestoreToOriginal Kind = "RESTORE_TO_ORIGINAL" // restored over the original location: destructive
	// KindApprove is a second person's approval of an action awaiting it (Approve writes it,
	// never Begin); its RefID is the approved action.
	KindApprove Kind = "APPROVE"
)

// ItemAction reports whether k is one of issue 25's item actions.
func (k Kind) ItemAction() bool {
	switch k {
	case KindDownload, KindSend, KindRestoreTo, KindRestoreToOriginal:
		return true
	}
	return false
}

// Status is a step's outcome.
type Status string

// Statuses. A step is PENDING from Begin until Complete.
const (
	StatusPending   Status = "PENDING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	// StatusPartial: an item action done for some items, not all (Counts say which).
	StatusPartial Status = "PARTIAL"
	// StatusPendingApproval: an action begun with an ApprovalUntil, not approved (Approve) nor
	// completed yet. Read back only; never an outcome.
	StatusPendingApproval Status = "PENDING_APPROVAL"
)

// Item is one item an action is about, as the browse connections named it.
type Item struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// Counts are an item action's outcome per item: created, merged, skipped, failed.
type Counts struct {
	Created int64
	Merged  int64
	Skipped int64
	Failed  int64
}

// Approval is the second person's approval of an action.
type Approval struct {
	ID    string // the APPROVE record's id
	Actor Actor
	At    time.Time
}

// Actor is who took a step, as the edge authenticated them.
type Actor struct {
	Person      string // JWT sub; an API key's configured person (auth.apiKeys[].person), else apikey:<name>
	DisplayName string // JWT name/email claim, when present; "API key <name>" for a key with a person
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
	SessionType      string          // START: EXCHANGE | ONEDRIVE | SHAREPOINT | TEAMS
	VBOSessionID     string          // known for every step after START
	Detail           json.RawMessage // what was asked: browse ref and page, search text, options...

	// Item actions (issue 25).
	Items          []Item
	Target         string   // RESTORE_TO: where to (mailbox/folder, OneDrive, site...)
	Recipients     []string // SEND: the addresses
	Destructive    bool     // RESTORE_TO_ORIGINAL (always), Teams members/settings restores
	IdempotencyKey string   // a key already used by this person (tenant, person): ErrDuplicate
	// ApprovalUntil, when set, makes the action wait for another person's Approve until then
	// (PENDING_APPROVAL); it cannot complete successfully before.
	ApprovalUntil time.Time
}

// Outcome completes a step (Complete).
type Outcome struct {
	Status         Status
	UpstreamStatus int             // HTTP status VBO answered; 0 when no answer
	VBOSessionID   string          // START: from VBO's explore answer, never guessed
	Error          string          // a message safe to show to the tenant (no secrets)
	Detail         json.RawMessage // e.g. warnings, VBO's restore statistics

	// Item actions (issue 25).
	Counts *Counts
	Bytes  int64  // DOWNLOAD: bytes sent to the person
	SHA256 string // DOWNLOAD: hex SHA-256 of what was sent
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

	// Item actions (issue 25).
	RefID          string // APPROVE: the approved action
	Items          []Item
	Target         string
	Recipients     []string
	Destructive    bool
	IdempotencyKey string
	ApprovalUntil  *time.Time // nil: no approval needed
	Approval       *Approval  // nil until approved
	Counts         *Counts
	Bytes          int64
	SHA256         string
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

// Log is the attribution log over the shared store. Safe for concurrent use, by any number of
// replicas over one database.
type Log struct {
	st      *store.Store
	now     func() time.Time
	replica string
}

// New returns the log over st (already migrated).
func New(st *store.Store) (*Log, error) {
	if st == nil {
		return nil, errors.New("actionlog: nil store")
	}
	return &Log{st: st, now: time.Now}, nil
}

// WithReplica returns the log recording id as the replica that takes its steps: the gateway
// sessions it opens carry it (IdleSessions finds those of replicas no longer alive).
func (l *Log) WithReplica(id string) *Log {
	c := *l
	c.replica = id
	return &c
}

// WithClock returns the log taking its time from now (tests; nil: time.Now).
func (l *Log) WithClock(now func() time.Time) *Log {
	c := *l
	c.now = now
	if now == nil {
		c.now = time.Now
	}
	return &c
}
