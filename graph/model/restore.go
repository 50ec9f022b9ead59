package model

import (
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// RestoreAttribution is who started a restore session, as the gateway's log knows it.
type RestoreAttribution struct {
	ThroughGateway bool
	Person         *string
	DisplayName    *string
	Tenant         *string
	Reason         *string
	// GatewaySessionID is the gateway's id of the session ("" when not through the gateway):
	// its actions are read by it.
	GatewaySessionID string `json:"-"`
}

// RestoreBrowser browses one open restore session started through the gateway.
type RestoreBrowser struct {
	// Server is the VBO server (config name).
	Server string
	// GatewaySessionID is the gateway's id of the session (the attribution log's).
	GatewaySessionID string
	// VBOSessionID is VBO's id of the session.
	VBOSessionID string
	// Type is the session's type (which roots it has).
	Type RestoreSessionType
}

// RestoreItem is one browsed entry of an open restore session.
type RestoreItem struct {
	ID          string
	Kind        RestoreItemKind
	Name        string
	ItemType    *string
	Email       *string
	URL         *string
	SizeBytes   *int64
	Modified    *time.Time
	HasChildren bool
	// Browser is the session it was browsed in.
	Browser *RestoreBrowser `json:"-"`
	// Ref is where the entry sits (its collection) and Upstream its VBO id: children are
	// listed below them.
	Ref      upstream.BrowseRef `json:"-"`
	Upstream string             `json:"-"`
}

// RestoreAction is one recorded step of the restore front door (the attribution log's record,
// mapped); its events are VBO's, joined from the archive by VBOSessionID.
type RestoreAction struct {
	ID             string
	Position       int64
	Kind           RestoreActionKind
	Person         string
	DisplayName    *string
	Role           Role
	Reason         *string
	ClientAddress  *string
	UserAgent      *string
	RequestID      *string
	Server         string
	Summary        string
	Status         RestoreActionStatus
	UpstreamStatus *int
	Error          *string
	StartTime      time.Time
	EndTime        *time.Time
	Items          []*RestoreActionItem
	Target         *string
	Counts         *RestoreCounts
	Bytes          *int64
	Sha256         *string
	ApprovedBy     *string
	// VBOSessionID is VBO's id of the session the step acted in ("" before VBO answered).
	VBOSessionID string `json:"-"`
	// NeedsApproval: the action waited for a second person's approval, given at ApprovedAt
	// (nil: never). The join of VBO's item events reads them (resolvers/eventjoin).
	NeedsApproval bool       `json:"-"`
	ApprovedAt    *time.Time `json:"-"`
}
