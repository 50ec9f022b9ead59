package resolvers

import (
	"context"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// ReportSchedules keeps report schedules and their runs (cmd/internal/audit/schedules
// implements it on the store; app wires it). The resolvers check the caller's rights first
// (scope.go: schedules are owned and scoped exactly like watch rules); implementations answer
// ErrNotFound for what does not exist and *model.InputError for definitions they refuse.
type ReportSchedules interface {
	List(ctx context.Context, owners RuleOwners) ([]*model.ReportSchedule, error)
	Get(ctx context.Context, id string) (*model.ReportSchedule, error)
	// Create stores a schedule owned by owner (nil: the provider's), returning its webhook
	// secret when it has a webhook.
	Create(ctx context.Context, owner *string, createdBy string, in model.ReportScheduleInput) (*model.ReportScheduleCreated, error)
	Update(ctx context.Context, id string, in model.ReportScheduleInput) (*model.ReportSchedule, error)
	Delete(ctx context.Context, id string) (bool, error)
	RunNow(ctx context.Context, id string) (*model.ReportRun, error)
	// Runs pages a schedule's runs newest first; after and the edges' cursors are the store's
	// plain keyset text, which the resolvers seal (gid.Cursors).
	Runs(ctx context.Context, scheduleID string, first int, after string) (*model.ReportRunConnection, error)
}

// runCursorKind names report run cursors (gid.Cursors.EncodeKeyset).
const runCursorKind = "rr"
