package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/schedules"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watchrules"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// webhookKit is the webhook delivery the watch rules and the report schedules share: the
// SSRF guard, the client built on it and the retry schedule, from the webhooks section.
type webhookKit struct {
	guard    *webhooks.Guard
	client   *webhooks.Client
	schedule webhooks.Schedule
	workers  int
	history  time.Duration
}

// newWebhookKit builds the webhook delivery of cfg's webhooks section.
func newWebhookKit(cfg *config.Config) (*webhookKit, error) {
	w := cfg.Webhooks.WithDefaults()
	if err := w.Validate(); err != nil {
		return nil, err
	}
	allowed, err := w.AllowedPrefixes()
	if err != nil {
		return nil, err
	}
	guard, err := webhooks.NewGuard(webhooks.Policy{AllowHTTP: w.AllowHTTP, AllowPrivateNetworks: allowed})
	if err != nil {
		return nil, err
	}
	client, err := webhooks.NewClient(webhooks.ClientOptions{Guard: guard, Timeout: w.Timeout})
	if err != nil {
		return nil, err
	}
	schedule, err := webhooks.NewSchedule(w.RetrySchedule, w.RetryJitter)
	if err != nil {
		return nil, err
	}
	return &webhookKit{guard: guard, client: client, schedule: schedule, workers: w.Workers, history: w.Retention()}, nil
}

// newWatchRules builds the watch rules and their webhook delivery on the store (nil when the
// watch, and so the store, is off). Rules are bounded by scope (their owner's organisations),
// asked at each match and each delivery.
func newWatchRules(ctx context.Context, st *store.Store, kit *webhookKit, scope func(owner *string, server, orgID string) bool, logger *slog.Logger) (*watchrules.Service, error) {
	if st == nil {
		return nil, nil
	}
	// The rules join the restore front door's item actions to the item events of sessions
	// started through it (who took each action; the destructive condition).
	log, err := actionlog.New(st)
	if err != nil {
		return nil, err
	}
	return watchrules.New(ctx, watchrules.Options{Store: st, Guard: kit.guard, Client: kit.client, Schedule: kit.schedule,
		OwnerScope: scope, Workers: kit.workers, HistoryRetention: kit.history, ItemActions: logItemActions{log}, Logger: logger})
}

// newJobs builds the process's one River client on the store (nil when the watch, and so the
// store, is off): the watch rules register their deliveries and the delivery history prune,
// the watcher its archive retention. A delivery job outlives the webhook timeout by 30 s.
func newJobs(ctx context.Context, cfg *config.Config, st *store.Store, logger *slog.Logger, modules ...jobs.Module) (*jobs.Client, error) {
	if st == nil {
		return nil, nil
	}
	return jobs.New(ctx, st, jobs.Options{Modules: modules, JobTimeout: cfg.Webhooks.WithDefaults().Timeout + 30*time.Second, Logger: logger})
}

// tenantScope is a tenant's scope under the configuration in force now: a reload that takes
// organisations from a tenant narrows its rules at once (matches and pending deliveries alike).
func (g *Gateway) tenantScope(tenant string) (*auth.Principal, bool) {
	snap := g.current.Load()
	if snap == nil {
		return nil, false
	}
	return snap.authenticator.TenantScope(tenant)
}

// ruleScope is the watch rules' scope under the configuration in force now: a provider-wide
// rule (owner nil) sees everything, a tenant's rule its organisations as the directory resolves
// them now (a reload that takes organisations from a tenant narrows its rules at once). It
// reads the directory directly: no principal is built per match.
func (g *Gateway) ruleScope(owner *string, server, orgID string) bool {
	if owner == nil {
		return true
	}
	snap := g.current.Load()
	return snap != nil && snap.dir.OrgInScope(*owner, server, orgID)
}

// tenantOf names the tenant an organisation's sessions roll up under in restoreAudit grouped
// by TENANT, under the configuration in force now (the directory's TenantOf: an organisation
// two tenants name goes to the tenant whose id sorts first); none without authentication.
func (g *Gateway) tenantOf(server, orgID string) (string, bool) {
	snap := g.current.Load()
	if snap == nil {
		return "", false
	}
	return snap.dir.TenantOf(server, orgID)
}

// newAuditArchive serves the restore audit from the store (nil when the watch, and so the
// store, is off). Its coverage honours the retention the watcher prunes by: the start-up
// configuration's, as the watcher is not rebuilt on reload.
func newAuditArchive(cfg *config.Config, st *store.Store) (*report.Archive, error) {
	if st == nil {
		return nil, nil
	}
	return report.NewArchive(st, report.ArchiveOptions{Retention: cfg.Watch.WithDefaults().Retention})
}

// withWatchRules adds the rules, the report schedules, the restore audit and its CSV exports
// to the HTTP options.
func withWatchRules(h *httpapi.Options, svc *watchrules.Service, reports *schedules.Service, archive *report.Archive,
	scope resolvers.TenantScope, tenantOf resolvers.TenantOf, logger *slog.Logger) {
	if svc == nil || archive == nil {
		return
	}
	h.Rules, h.Audit, h.TenantScope, h.TenantOf = svc, archive, scope, tenantOf
	if reports != nil {
		h.Reports = reports
	}
	h.Exports = func(res *resolvers.Resolver) map[string]http.Handler {
		return archive.Exports(res, report.ExportOptions{Logger: logger})
	}
}
