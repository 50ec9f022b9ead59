// Package schedules keeps report schedules in the store and sends the restore audit of each
// period on its own (issue 27): the CSV of /export/restore-audit.csv (written by report's
// WriteCSV from restoreAudit's rows, so byte-identical for the same window and scope) and a
// summary, by Standard Webhooks (event type report.ready, through audit/webhooks: signing,
// SSRF guard, retry schedule) and by email.
//
// Each period runs exactly once across replicas: a River periodic job (Tick) finds the periods
// that have ended and queues one run job per (schedule, period start), unique by its
// arguments, beside a report_run row unique per (schedule, period start) inserted in the same
// transaction. A run waits for the archive to cover its period or for the grace time to pass
// (then it is marked incomplete). It implements resolvers.ReportSchedules; the resolvers
// check the caller's rights first.
package schedules

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// IDPrefix begins every schedule's id.
const IDPrefix = "rs_"

// MaxSchedulesPerOwner bounds the schedules of one tenant (or the provider).
const MaxSchedulesPerOwner = 50

// Defaults.
const (
	DefaultGrace        = 6 * time.Hour
	DefaultTickInterval = time.Minute
	DefaultMaxInlineCSV = 1 << 20
	// maxCatchUp is how many ended periods of one schedule a tick queues at most (after an
	// outage): the latest ones.
	maxCatchUp = 4
)

// QueryBuilder checks and scopes a report request under the principal in ctx
// (*resolvers.Resolver): a run's query is the one the export would build for its owner.
type QueryBuilder interface {
	NewAuditQuery(ctx context.Context, from, to time.Time, filter *model.RestoreSessionFilter, groupBy []model.RestoreAuditDimension) (resolvers.AuditQuery, error)
}

// Archive is the restore audit (*report.Archive).
type Archive interface {
	RestoreAudit(ctx context.Context, q resolvers.AuditQuery) (*model.RestoreAudit, error)
	Sessions(ctx context.Context, q resolvers.AuditQuery, each func(*match.Session) error) error
}

// CSVWriter writes a report's rows as the export's CSV (report.WriteCSV).
type CSVWriter func(w io.Writer, groupBy []model.RestoreAuditDimension, rows []*model.RestoreAuditRow) error

// Options configure a Service.
type Options struct {
	Store *store.Store
	// Guard checks webhook URLs when schedules are written; Client (built on the same Guard)
	// delivers; Schedule is the retry schedule (the watch rules').
	Guard    *webhooks.Guard
	Client   *webhooks.Client
	Schedule webhooks.Schedule
	Queries  QueryBuilder
	Archive  Archive
	WriteCSV CSVWriter
	// Owner is the principal a schedule's report is made as: the tenant's now (false when the
	// tenant is gone), a provider admin for the provider's (tenant nil).
	Owner func(tenant *string) (*auth.Principal, bool)
	// Summary makes the summary (optional: without it a run carries the CSV alone).
	Summary Summarizer
	// Mailer sends email deliveries (optional: without it a schedule with email is refused).
	Mailer Mailer
	// EmailDomains are the domains an owner's recipients may be in; any: every domain.
	EmailDomains func(tenant *string) (domains []string, any bool)
	// Demo allows the DEMO period, DemoPeriod long (default DefaultDemoPeriod).
	Demo       bool
	DemoPeriod time.Duration
	// Grace is how long after a period's end a run waits for the archive to cover it before it
	// is made anyway, marked incomplete (default DefaultGrace).
	Grace time.Duration
	// Recheck is how often a waiting run looks at the archive's coverage again (default 1
	// minute).
	Recheck time.Duration
	// TickInterval is how often the periodic job looks for ended periods (default 1 minute).
	TickInterval time.Duration
	// MaxInlineCSV is the largest CSV carried in a webhook's body (default 1 MiB); a larger
	// one is left out (csvOmitted) and goes by email only.
	MaxInlineCSV int
	// Now is the clock (default time.Now); tests control it.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the store-backed report schedules. Safe for concurrent use.
type Service struct {
	o      Options
	st     *store.Store
	jobs   *jobs.Client
	logger *slog.Logger
}

var _ resolvers.ReportSchedules = (*Service)(nil)

// New builds the service; jobs.New sets it up (Setup) and app starts the client.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Guard == nil || o.Client == nil || o.Queries == nil || o.Archive == nil || o.Owner == nil || o.WriteCSV == nil {
		return nil, errors.New("schedules.New: Store, Guard, Client, Queries, Archive, WriteCSV and Owner are required")
	}
	if o.Schedule.Attempts() == 0 {
		return nil, errors.New("schedules.New: a retry schedule is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Recheck <= 0 {
		o.Recheck = time.Minute
	}
	if o.TickInterval <= 0 {
		o.TickInterval = DefaultTickInterval
	}
	if o.DemoPeriod <= 0 {
		o.DemoPeriod = DefaultDemoPeriod
	}
	if o.MaxInlineCSV <= 0 {
		o.MaxInlineCSV = DefaultMaxInlineCSV
	}
	return &Service{o: o, st: o.Store, logger: o.Logger}, nil
}

var errNoRow = errors.New("no such row")

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func inputError(field, msg string) error { return &model.InputError{Field: field, Msg: msg} }

// definition is a schedule as stored (JSON in report_schedule.definition).
type definition struct {
	Name           string                        `json:"name"`
	Every          model.ReportPeriod            `json:"every"`
	At             string                        `json:"at"`
	TimeZone       string                        `json:"timeZone"`
	Filter         *model.RestoreSessionFilter   `json:"filter,omitempty"`
	GroupBy        []model.RestoreAuditDimension `json:"groupBy"`
	OnlyIfActivity bool                          `json:"onlyIfActivity"`
	WebhookURL     string                        `json:"webhookUrl,omitempty"`
	Email          []string                      `json:"email,omitempty"`
}

// scheduleRow is a stored schedule.
type scheduleRow struct {
	id        string
	tenant    *string
	def       definition
	secret    webhooks.Secret
	createdBy string
	created   time.Time
	updated   time.Time
}

func (s *Service) cadence(d definition) (cadence, error) {
	c := cadence{every: d.Every, demo: s.o.DemoPeriod}
	var err error
	if c.hour, c.minute, err = parseAt(d.At); err != nil {
		return c, inputError("at", err.Error())
	}
	if c.loc, err = time.LoadLocation(d.TimeZone); err != nil || d.TimeZone == "" || strings.EqualFold(d.TimeZone, "local") {
		return c, inputError("timeZone", fmt.Sprintf("unknown IANA time zone %q", excerpt(d.TimeZone)))
	}
	return c, nil
}

// definitionFrom checks the input and turns it into a definition (owner: the schedule's).
func (s *Service) definitionFrom(ctx context.Context, owner *string, in model.ReportScheduleInput) (definition, error) {
	d := definition{Name: strings.TrimSpace(in.Name), Every: in.Every, TimeZone: strings.TrimSpace(in.TimeZone),
		Filter: in.Filter, GroupBy: in.GroupBy, At: "07:00"}
	if in.At != nil {
		d.At = strings.TrimSpace(*in.At)
	}
	if in.OnlyIfActivity != nil {
		d.OnlyIfActivity = *in.OnlyIfActivity
	}
	switch {
	case d.Name == "" || len(d.Name) > 200:
		return d, inputError("name", "must be 1 to 200 characters")
	case !d.Every.IsValid():
		return d, inputError("every", "unknown period")
	case d.Every == model.ReportPeriodDemo && !s.o.Demo:
		return d, inputError("every", "DEMO is allowed only in the gateway's demo (--demo)")
	}
	if _, err := s.cadence(d); err != nil {
		return d, err
	}
	if in.WebhookURL != nil && strings.TrimSpace(*in.WebhookURL) != "" {
		d.WebhookURL = strings.TrimSpace(*in.WebhookURL)
		if _, err := s.o.Guard.CheckURL(ctx, d.WebhookURL); err != nil {
			return d, inputError("webhookUrl", err.Error())
		}
	}
	if len(in.Email) > 0 && s.o.Mailer == nil {
		return d, inputError("email", "email is not configured on this gateway (email.smtp)")
	}
	if len(in.Email) > 20 {
		return d, inputError("email", "at most 20 recipients")
	}
	for _, raw := range in.Email {
		addr, err := mail.ParseAddress(strings.TrimSpace(raw))
		if err != nil || addr.Name != "" {
			return d, inputError("email", fmt.Sprintf("%q is not an email address", excerpt(raw)))
		}
		if !s.domainAllowed(owner, addr.Address) {
			return d, inputError("email", fmt.Sprintf("%q is outside the domains allowed for this owner", excerpt(raw)))
		}
		if !slices.Contains(d.Email, addr.Address) {
			d.Email = append(d.Email, addr.Address)
		}
	}
	return d, nil
}

// domainAllowed reports whether an owner may send reports to addr.
func (s *Service) domainAllowed(owner *string, addr string) bool {
	if s.o.EmailDomains == nil {
		return false
	}
	domains, any := s.o.EmailDomains(owner)
	if any {
		return true
	}
	_, domain, _ := strings.Cut(addr, "@")
	for _, d := range domains {
		if strings.EqualFold(domain, strings.TrimPrefix(d, "@")) {
			return true
		}
	}
	return false
}

const scheduleCols = `id, tenant, definition, secret, created_by, created_ns, updated_ns`

func scanSchedule(r store.Row) (*scheduleRow, error) {
	var x scheduleRow
	var tenant sql.NullString
	var def, secret string
	var created, updated int64
	if err := r.Scan(&x.id, &tenant, &def, &secret, &x.createdBy, &created, &updated); err != nil {
		if store.IsNoRows(err) {
			return nil, errNoRow
		}
		return nil, err
	}
	if tenant.Valid {
		x.tenant = &tenant.String
	}
	if err := json.Unmarshal([]byte(def), &x.def); err != nil {
		return nil, fmt.Errorf("schedule %s: stored definition: %w", x.id, err)
	}
	if secret != "" {
		var err error
		if x.secret, err = webhooks.ParseSecret(secret); err != nil {
			return nil, fmt.Errorf("schedule %s: stored secret: %w", x.id, err)
		}
	}
	x.created, x.updated = store.FromNS(created), store.FromNS(updated)
	return &x, nil
}

func (s *Service) getSchedule(ctx context.Context, q store.Querier, id string) (*scheduleRow, error) {
	return scanSchedule(q.QueryRow(ctx, `SELECT `+scheduleCols+` FROM report_schedule WHERE id = ?`, id))
}

func (s *Service) schedules(ctx context.Context, where string, args ...any) ([]*scheduleRow, error) {
	rows, err := s.st.Query(ctx, `SELECT `+scheduleCols+` FROM report_schedule `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, err
	}
	return store.Collect(rows, scanSchedule)
}

// toModel is a schedule as the schema shows it.
func (s *Service) toModel(r *scheduleRow) *model.ReportSchedule {
	m := &model.ReportSchedule{ID: r.id, Name: r.def.Name, Every: r.def.Every, At: r.def.At, TimeZone: r.def.TimeZone,
		GroupBy: r.def.GroupBy, OnlyIfActivity: r.def.OnlyIfActivity, Email: r.def.Email, Tenant: r.tenant,
		CreatedBy: r.createdBy, CreatedAt: r.created, UpdatedAt: r.updated}
	if m.GroupBy == nil {
		m.GroupBy = []model.RestoreAuditDimension{}
	}
	if m.Email == nil {
		m.Email = []string{}
	}
	if r.def.WebhookURL != "" {
		u := r.def.WebhookURL
		m.WebhookURL = &u
	}
	if f := r.def.Filter; f != nil {
		m.Filter = &model.WatchRuleFilter{StartTimeFrom: f.StartTimeFrom, StartTimeTo: f.StartTimeTo, OrganizationIds: f.OrganizationIds,
			Servers: f.Servers, Types: f.Types, States: f.States, Results: f.Results, InitiatedBy: f.InitiatedBy, ClientHost: f.ClientHost}
	}
	if c, err := s.cadence(r.def); err == nil {
		m.NextRunAt = c.next(s.o.Now())
	}
	return m
}

// List returns the schedules of owners.
func (s *Service) List(ctx context.Context, owners resolvers.RuleOwners) ([]*model.ReportSchedule, error) {
	var rows []*scheduleRow
	var err error
	if owners.All {
		rows, err = s.schedules(ctx, "")
	} else {
		rows, err = s.schedules(ctx, "WHERE tenant = ?", owners.Tenant)
	}
	if err != nil {
		return nil, fmt.Errorf("report schedules: list: %w", err)
	}
	out := make([]*model.ReportSchedule, len(rows))
	for i, r := range rows {
		out[i] = s.toModel(r)
	}
	return out, nil
}

// Get returns one schedule (resolvers.ErrNotFound when there is none).
func (s *Service) Get(ctx context.Context, id string) (*model.ReportSchedule, error) {
	r, err := s.getSchedule(ctx, s.st, id)
	if errors.Is(err, errNoRow) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("report schedules: get: %w", err)
	}
	return s.toModel(r), nil
}

// Create stores a schedule owned by owner (nil: the provider's); the secret is returned when
// the schedule has a webhook.
func (s *Service) Create(ctx context.Context, owner *string, createdBy string, in model.ReportScheduleInput) (*model.ReportScheduleCreated, error) {
	d, err := s.definitionFrom(ctx, owner, in)
	if err != nil {
		return nil, err
	}
	r := &scheduleRow{id: newID(IDPrefix), tenant: owner, def: d, createdBy: createdBy}
	r.created = s.o.Now().UTC()
	r.updated = r.created
	var stored string
	if d.WebhookURL != "" {
		if r.secret, err = webhooks.NewSecret(); err != nil {
			return nil, err
		}
		stored = r.secret.Reveal()
	}
	def, _ := json.Marshal(d)
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM report_schedule WHERE tenant IS NOT DISTINCT FROM ?`, owner).Scan(&n); err != nil {
			return err
		}
		if n >= MaxSchedulesPerOwner {
			return inputError("", fmt.Sprintf("at most %d report schedules per owner", MaxSchedulesPerOwner))
		}
		_, err := tx.Exec(ctx, `INSERT INTO report_schedule (`+scheduleCols+`, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, owner, string(def), stored, createdBy, store.NS(r.created), store.NS(r.updated), d.Name)
		return err
	})
	if err != nil {
		var ie *model.InputError
		if errors.As(err, &ie) {
			return nil, ie
		}
		return nil, fmt.Errorf("report schedules: create: %w", err)
	}
	s.logger.InfoContext(ctx, "report schedule created", "schedule", r.id, "tenant", ownerName(owner), "every", string(d.Every))
	out := &model.ReportScheduleCreated{Schedule: s.toModel(r)}
	if stored != "" {
		out.Secret = &stored
	}
	return out, nil
}

// Update replaces a schedule's definition. A schedule given a webhook for the first time gets
// a secret, which is not shown: delete and create it to see one.
func (s *Service) Update(ctx context.Context, id string, in model.ReportScheduleInput) (*model.ReportSchedule, error) {
	r, err := s.getSchedule(ctx, s.st, id)
	if errors.Is(err, errNoRow) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("report schedules: update: %w", err)
	}
	d, err := s.definitionFrom(ctx, r.tenant, in)
	if err != nil {
		return nil, err
	}
	if d.WebhookURL != "" && r.secret.IsZero() {
		return nil, inputError("webhookUrl", "this schedule was created without a webhook, so it has no signing secret: create a new schedule")
	}
	r.def, r.updated = d, s.o.Now().UTC()
	def, _ := json.Marshal(d)
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		n, err := tx.Exec(ctx, `UPDATE report_schedule SET name = ?, definition = ?, updated_ns = ? WHERE id = ?`,
			d.Name, string(def), store.NS(r.updated), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return errNoRow
		}
		return nil
	})
	if errors.Is(err, errNoRow) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("report schedules: update: %w", err)
	}
	return s.toModel(r), nil
}

// Delete deletes a schedule, its runs and their deliveries; true when it existed.
func (s *Service) Delete(ctx context.Context, id string) (bool, error) {
	var existed bool
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM report_delivery WHERE run_id IN (SELECT id FROM report_run WHERE schedule_id = ?)`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM report_run WHERE schedule_id = ?`, id); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM report_schedule WHERE id = ?`, id)
		if err != nil {
			return err
		}
		existed = n > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("report schedules: delete: %w", err)
	}
	return existed, nil
}

func ownerName(owner *string) string {
	if owner == nil {
		return "provider"
	}
	return *owner
}

// SigningSecrets returns the secret that signs a schedule's report.ready webhooks (none when
// it has no webhook); resolvers.ErrNotFound when there is no such schedule. For the demo's
// receiver, which verifies each delivery.
func (s *Service) SigningSecrets(ctx context.Context, id string) ([]webhooks.Secret, error) {
	r, err := s.getSchedule(ctx, s.st, id)
	if errors.Is(err, errNoRow) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("report schedules: secrets: %w", err)
	}
	if r.secret.IsZero() {
		return nil, nil
	}
	return []webhooks.Secret{r.secret}, nil
}
