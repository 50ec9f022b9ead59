package app

import (
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/schedules"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// providerReports is the subject of the principal the provider's own schedules report as.
const providerReports = "report-schedules"

// newReportSchedules builds the report schedules on the store (nil when the watch, and so the
// store, is off). A run's report is made as its owner's export would be: the resolver's query
// path (scope and checks) over the archive, for the tenant's principal under the configuration
// in force at the run (a reload that takes organisations from a tenant narrows its reports at
// once) or a provider admin's; the CSV is the export's (report.WriteCSV). Webhooks go through
// the rules' guard, client and retry schedule; email through email.smtp, when configured, to
// the owner's allowed domains (tenants[].emailDomains, email.providerDomains, or any with
// email.allowAnyRecipient), read from the configuration in force (start-up's SMTP server).
func (g *Gateway) newReportSchedules(cfg *config.Config, kit *webhookKit) (*schedules.Service, error) {
	if g.Store == nil || g.audit == nil || kit == nil {
		return nil, nil
	}
	o := schedules.Options{Store: g.Store, Guard: kit.guard, Client: kit.client, Schedule: kit.schedule,
		Queries:      &resolvers.Resolver{Backend: g.Backend, Audit: g.audit, Logger: g.logger, TenantOf: g.tenantOf},
		Archive:      g.audit,
		WriteCSV:     report.WriteCSV,
		Owner:        g.reportOwner,
		Summary:      schedules.SummaryBuilder{},
		EmailDomains: g.emailDomains,
		Demo:         g.opts.Demo,
		Logger:       g.logger,
	}
	if cfg.Email.SMTP.Enabled() {
		o.Mailer = schedules.SMTPMailer{SMTP: cfg.Email.SMTP}
	}
	return schedules.New(o)
}

// reportOwner is the principal a schedule's report is made as: a provider admin for the
// provider's (tenant nil), the tenant's scope now for a tenant's (false when it is gone).
func (g *Gateway) reportOwner(tenant *string) (*auth.Principal, bool) {
	if tenant == nil {
		return auth.NewAdmin(providerReports), true
	}
	return g.tenantScope(*tenant)
}

// emailDomains are the domains an owner's schedules may email under the configuration in
// force now.
func (g *Gateway) emailDomains(tenant *string) ([]string, bool) {
	snap := g.current.Load()
	if snap == nil {
		return nil, false
	}
	c := snap.cfg
	if c.Email.AllowAnyRecipient {
		return nil, true
	}
	if tenant == nil {
		return c.Email.ProviderDomains, false
	}
	for _, t := range c.Tenants {
		if t.ID == *tenant {
			return t.EmailDomains, false
		}
	}
	return nil, false
}
