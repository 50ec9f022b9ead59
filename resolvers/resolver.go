// Package resolvers implements the GraphQL schema. Resolvers stay thin: they check the
// caller's scope, call a loader, and map the result to graph/model types.
package resolvers

import (
	"log/slog"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
)

// StatusFunc reports a server's health as the gateway sees it.
type StatusFunc func(server string) model.ServerStatus

// Resolver is the dependency root of the resolvers.
type Resolver struct {
	Backend *loaders.Backend
	Logger  *slog.Logger
	// Cursors seals every cursor handed out and opens the ones sent back (required).
	Cursors *gid.Cursors
	// ServerStatus reports server health for admins; nil reports every server UP.
	ServerStatus StatusFunc
	// Rules keeps watch rules and deliveries; nil without a store (their fields then answer
	// NOT_CONFIGURED).
	Rules WatchRules
	// Audit serves the restore audit report; nil without a store.
	Audit AuditArchive
	// Reports keeps report schedules and their runs; nil without a store.
	Reports ReportSchedules
	// TenantScope resolves a tenant's current scope (provider admins creating tenant rules).
	TenantScope TenantScope
	// TenantOf names an organisation's tenant (restoreAudit grouped by TENANT); nil refuses
	// that grouping.
	TenantOf TenantOf
	// Watch reports the restore watch's state to admins; nil when the watch is off.
	Watch WatchStatus
	// Feed follows the archive for subscriptions; nil when the watch is off (NOT_CONFIGURED).
	Feed SessionFeed
	// Reads answers session reads from the restore watch's archive when it covers them (see
	// archive.go); nil when the watch is off: VBO only.
	Reads *ArchiveReads
	// Restore is the restore front door (cmd/internal/restore/frontdoor); nil when it is off
	// (restore.enabled false): its mutations answer NOT_CONFIGURED, attribution says
	// throughGateway false and browse is null.
	Restore RestoreFrontDoor
}
