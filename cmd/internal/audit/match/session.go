// Package match evaluates watch rules: pure predicates over an archived restore session (and,
// for ITEM rules, the events first seen in it), and the JSON payload a match is delivered
// with. It reads nothing itself; what needs the archive ("first restore from this machine")
// comes in as a lookup.
package match

import (
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Session is an archived restore session as rules and reports see it.
type Session struct {
	// Server is the VBO server's config name.
	Server string
	// OrgID is the organisation's upstream id as recorded ("" when the name matched none).
	OrgID string
	// OrgName is the organisation name VBO recorded on the session.
	OrgName string
	// Upstream is the session as VBO last reported it.
	Upstream upstream.RestoreSession
	// Items and Bytes are the item totals over the session's events (markers excluded).
	Items int64
	Bytes int64
	// ItemsByEventType counts item events by type.
	ItemsByEventType map[model.RestoreEventType]int64
	// FirstItem and LastItem are the first and last item event start times (nil: no items).
	FirstItem, LastItem *time.Time
	// Attribution is who started the session through the gateway, as the watcher joined it
	// into the archive (zero: outside the gateway).
	Attribution Attribution
	// ItemActions are the item actions recorded on the session through the gateway, oldest
	// first (nil for a session outside it, or when the caller did not look them up): the
	// destructive condition and the payload's item actors join them to the events.
	ItemActions []ItemAction
}

// Attribution is who started a session through the gateway's restore front door.
type Attribution struct {
	// ThroughGateway: started through the front door; the fields below are then its record.
	ThroughGateway bool
	// Person is the authenticated subject (JWT sub or API key name), DisplayName the JWT's
	// name or email, Tenant the person's tenant ("" for provider staff), Reason the reason given.
	Person, DisplayName, Tenant, Reason string
	// Pending: not decided yet (a START on the organisation awaited VBO's answer); rules on
	// the attribution match neither way while it is.
	Pending bool
}

// ID is the session's global ID, as the GraphQL API shows it.
func (s *Session) ID() string {
	return gid.ID{Kind: gid.KindRestoreSession, Server: s.Server, Upstream: s.Upstream.ID}.String()
}

// OrgGlobalID is the organisation's global ID; a detached one (by recorded name) when the
// organisation is unknown.
func (s *Session) OrgGlobalID() string {
	if s.OrgID == "" {
		return gid.ID{Kind: gid.KindDetachedOrganization, Server: s.Server, Upstream: s.OrgName}.String()
	}
	return gid.ID{Kind: gid.KindOrganization, Server: s.Server, Upstream: s.OrgID}.String()
}

// ClientHost is the parsed clientHost.
func (s *Session) ClientHost() upstream.ClientHost {
	return upstream.ParseClientHost(s.Upstream.ClientHost)
}
