package schedules

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// Run statuses (the schema's ReportRunStatus).
const (
	runPending = "PENDING"
	runDone    = "DONE"
	runSkipped = "SKIPPED"
	runFailed  = "FAILED"
)

// Period is one report period, [From, To), and its name for people.
type Period struct {
	From, To time.Time
	Label    string
}

// SummaryInput is what a summary is made of (the summary package's Input).
type SummaryInput struct {
	Title string
	// Scope names whose report it is: a tenant, or the provider.
	Scope    string
	Period   Period
	Previous []Period
	// Sessions reads the sessions of [from, to) in the report's scope and filter.
	Sessions func(ctx context.Context, from, to time.Time, each func(*match.Session) error) error
	Coverage []*model.RestoreAuditCoverage
	Complete bool
	// TimeZone is the schedule's (IANA): business hours (08:00-18:00, Monday to Friday) are
	// judged in it, as the schedule's periods are.
	TimeZone string
}

// Summarizer makes a run's summary (HTML and plain text).
type Summarizer interface {
	Summarize(ctx context.Context, in SummaryInput) (html, text string, err error)
}

// Attachment is a file attached to an email.
type Attachment struct {
	Name, ContentType string
	Data              []byte
}

// Mailer sends one email.
type Mailer interface {
	Send(ctx context.Context, to []string, subject, html, text string, attachments ...Attachment) error
}

// runArgs is one River job: make the report of one period of one schedule. Scheduled runs
// are unique by (schedule, period start); an on-demand run by its RunID.
type runArgs struct {
	ScheduleID  string `json:"scheduleId" river:"unique"`
	PeriodStart int64  `json:"periodStart" river:"unique"`
	RunID       string `json:"runId,omitempty" river:"unique"`
}

func (runArgs) Kind() string { return "vbo_gateway_report_run" }

// tickArgs is the periodic job that queues the periods that have ended.
type tickArgs struct{}

func (tickArgs) Kind() string { return "vbo_gateway_report_tick" }

// deliverArgs is one delivery of a run (webhook or one email), retried on the schedule.
type deliverArgs struct {
	DeliveryID string `json:"deliveryId" river:"unique"`
}

func (deliverArgs) Kind() string { return "vbo_gateway_report_delivery" }

const (
	runQueue     = "reports"
	deliverQueue = "report_deliveries"
	tickQueue    = "reports_tick"
)

var (
	runOpts     = &river.InsertOpts{Queue: runQueue, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
	deliverOpts = &river.InsertOpts{Queue: deliverQueue, MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: jobs.LiveStates}}
	tickOpts    = &river.InsertOpts{Queue: tickQueue, MaxAttempts: 3, UniqueOpts: jobs.OneAtATime}
)

// Setup registers the schedules' jobs on the process's River client: the tick as a periodic
// job every TickInterval (River's leader queues it: one replica at a time), the runs and the
// deliveries on queues of their own.
func (s *Service) Setup(r *jobs.Registry) error {
	for _, err := range []error{
		river.AddWorkerSafely(r.Workers, &runWorker{s: s}),
		river.AddWorkerSafely(r.Workers, &deliverWorker{s: s}),
		river.AddWorkerSafely(r.Workers, &tickWorker{s: s}),
		r.Queue(runQueue, 2),
		r.Queue(deliverQueue, 4),
		r.Queue(tickQueue, 1),
	} {
		if err != nil {
			return err
		}
	}
	r.Periodic = append(r.Periodic, river.NewPeriodicJob(river.PeriodicInterval(s.o.TickInterval),
		func() (river.JobArgs, *river.InsertOpts) { return tickArgs{}, tickOpts },
		&river.PeriodicJobOpts{ID: "report_schedule_tick", RunOnStart: true}))
	s.jobs = r.Client
	return nil
}

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	s *Service
}

func (w *tickWorker) Work(ctx context.Context, _ *river.Job[tickArgs]) error {
	_, err := w.s.Tick(ctx)
	return err
}

// Tick queues a run for every period that has ended since its schedule was created and has
// none yet (at most the latest maxCatchUp per schedule), each in one transaction with its
// report_run row: a period another replica queued already is left alone. It returns how many
// it queued. The periodic job calls it; so may tests.
func (s *Service) Tick(ctx context.Context) (int, error) {
	if s.jobs == nil {
		return 0, errors.New("report schedules: no job client (the service was not set up with jobs.New)")
	}
	now := s.o.Now()
	all, err := s.schedules(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("report schedules: tick: %w", err)
	}
	queued := 0
	for _, sc := range all {
		c, err := s.cadence(sc.def)
		if err != nil {
			continue // stored before a time zone went away: nothing to run
		}
		var ends []time.Time
		for e := c.lastEnd(now); e.After(sc.created) && len(ends) < maxCatchUp; e = c.start(e) {
			ends = append(ends, e)
		}
		for i := len(ends) - 1; i >= 0; i-- {
			_, ok, err := s.queueRun(ctx, sc, c.start(ends[i]), ends[i], false)
			if err != nil {
				return queued, err
			}
			if ok {
				queued++
			}
		}
	}
	return queued, nil
}

// queueRun records a PENDING run of [from, to) and queues its job in one transaction; for a
// scheduled period that has a run already it does nothing (false).
func (s *Service) queueRun(ctx context.Context, sc *scheduleRow, from, to time.Time, onDemand bool) (id string, inserted bool, err error) {
	id = newID("rr_")
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		n, err := tx.Exec(ctx, `INSERT INTO report_run (id, schedule_id, from_ns, to_ns, on_demand, status, created_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			id, sc.id, store.NS(from), store.NS(to), onDemand, runPending, store.NS(s.o.Now()))
		if err != nil || n == 0 {
			return err
		}
		args := runArgs{ScheduleID: sc.id, PeriodStart: store.NS(from)}
		if onDemand {
			args.RunID = id
		}
		if _, err := s.jobs.InsertTx(ctx, tx, args, runOpts); err != nil {
			return err
		}
		inserted = true
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("report schedules: queue run of %s: %w", sc.id, err)
	}
	return id, inserted, nil
}

// runRow is a stored run.
type runRow struct {
	id, scheduleID string
	from, to       time.Time
	onDemand       bool
	status         string
	complete       bool
	coverage       []coverageEntry
	rows, sessions int64
	csv, html, txt string
	errText        string
	created        time.Time
	finished       *time.Time
}

type coverageEntry struct {
	Server   string     `json:"server"`
	From     *time.Time `json:"from,omitempty"`
	To       *time.Time `json:"to,omitempty"`
	Complete bool       `json:"complete"`
}

const runCols = `id, schedule_id, from_ns, to_ns, on_demand, status, complete, coverage, rows_n, sessions_n, csv, summary_html, summary_text, error, created_ns, finished_ns`

func scanRun(r store.Row) (*runRow, error) {
	var x runRow
	var from, to, created int64
	var cov string
	var finished sql.NullInt64
	if err := r.Scan(&x.id, &x.scheduleID, &from, &to, &x.onDemand, &x.status, &x.complete, &cov, &x.rows, &x.sessions,
		&x.csv, &x.html, &x.txt, &x.errText, &created, &finished); err != nil {
		if store.IsNoRows(err) {
			return nil, errNoRow
		}
		return nil, err
	}
	x.from, x.to, x.created, x.finished = store.FromNS(from), store.FromNS(to), store.FromNS(created), store.TimePtr(finished)
	if err := json.Unmarshal([]byte(cov), &x.coverage); err != nil {
		return nil, fmt.Errorf("run %s: stored coverage: %w", x.id, err)
	}
	return &x, nil
}

type runWorker struct {
	river.WorkerDefaults[runArgs]
	s *Service
}

func (w *runWorker) Timeout(*river.Job[runArgs]) time.Duration { return 5 * time.Minute }

func (w *runWorker) Work(ctx context.Context, job *river.Job[runArgs]) error {
	s := w.s
	var run *runRow
	var err error
	if job.Args.RunID != "" {
		run, err = scanRun(s.st.QueryRow(ctx, `SELECT `+runCols+` FROM report_run WHERE id = ?`, job.Args.RunID))
	} else {
		run, err = scanRun(s.st.QueryRow(ctx, `SELECT `+runCols+` FROM report_run WHERE schedule_id = ? AND from_ns = ? AND NOT on_demand`,
			job.Args.ScheduleID, job.Args.PeriodStart))
	}
	if errors.Is(err, errNoRow) {
		return nil // the schedule was deleted
	}
	if err != nil {
		return err
	}
	if run.status != runPending {
		return nil
	}
	sc, err := s.getSchedule(ctx, s.st, run.scheduleID)
	if errors.Is(err, errNoRow) {
		return nil
	}
	if err != nil {
		return err
	}
	wait, err := s.make(ctx, sc, run)
	if transient(err) {
		return err // River retries the job: the period still runs once, when the store or the context allows
	}
	if err != nil {
		// What tenants read in ReportRun.error is the classified message, never driver text.
		_, msg := resolvers.Classify(err)
		s.logger.WarnContext(ctx, "report run failed", "run", run.id, "err", err)
		return s.finish(ctx, run, runFailed, msg)
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// transient reports whether err is worth retrying the run for: the archive was unavailable or
// the job's context ended (a shutdown, the job timeout). A failed run is final (the period's
// unique run row forbids another), so these must not end it.
func transient(err error) bool {
	return err != nil && (errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// finish ends a run without a report.
func (s *Service) finish(ctx context.Context, run *runRow, status, why string) error {
	s.logger.WarnContext(ctx, "report run not made", "run", run.id, "schedule", run.scheduleID, "status", status, "err", why)
	now := s.o.Now()
	return s.st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE report_run SET status = ?, error = ?, finished_ns = ? WHERE id = ? AND status = ?`,
			status, why, store.NS(now), run.id, runPending)
		return err
	})
}

// ownerQuery is the schedule's report query for [from, to), built as the owner's export
// would be; ctx carries the owner's principal.
func (s *Service) ownerQuery(ctx context.Context, sc *scheduleRow, from, to time.Time) (context.Context, resolvers.AuditQuery, error) {
	p, ok := s.o.Owner(sc.tenant)
	if !ok {
		return ctx, resolvers.AuditQuery{}, errors.New("the schedule's tenant no longer exists")
	}
	ctx = auth.WithPrincipal(ctx, p)
	q, err := s.o.Queries.NewAuditQuery(ctx, from, to, sc.def.Filter, sc.def.GroupBy)
	return ctx, q, err
}

// make builds the run's report and queues its deliveries; a positive wait means the archive
// does not cover the period yet and the grace time has not passed: try again then.
func (s *Service) make(ctx context.Context, sc *scheduleRow, run *runRow) (time.Duration, error) {
	c, err := s.cadence(sc.def)
	if err != nil {
		return 0, err
	}
	octx, q, err := s.ownerQuery(ctx, sc, run.from, run.to)
	if err != nil {
		return 0, err
	}
	res, err := s.o.Archive.RestoreAudit(octx, q)
	if err != nil {
		return 0, err
	}
	complete := true
	cov := make([]coverageEntry, 0, len(res.Coverage))
	for _, cv := range res.Coverage {
		complete = complete && cv.Complete
		name := ""
		if cv.Server != nil {
			name = cv.Server.Name
		}
		cov = append(cov, coverageEntry{Server: name, From: cv.From, To: cv.To, Complete: cv.Complete})
	}
	if !complete && !run.onDemand {
		if left := run.to.Add(s.o.Grace).Sub(s.o.Now()); left > 0 {
			return min(left, s.o.Recheck), nil
		}
	}
	var sessions int64
	for _, r := range res.Rows {
		sessions += int64(r.Sessions)
	}
	covJSON, _ := json.Marshal(cov)
	if sessions == 0 && sc.def.OnlyIfActivity {
		return 0, s.st.InTx(ctx, func(tx store.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE report_run SET status = ?, complete = ?, coverage = ?, finished_ns = ? WHERE id = ? AND status = ?`,
				runSkipped, complete, string(covJSON), store.NS(s.o.Now()), run.id, runPending)
			return err
		})
	}
	var csv bytes.Buffer
	if err := s.o.WriteCSV(&csv, sc.def.GroupBy, res.Rows); err != nil {
		return 0, fmt.Errorf("write the CSV: %w", err)
	}
	period := Period{From: run.from, To: run.to, Label: c.label(run.from, run.to)}
	var html, text string
	if s.o.Summary != nil {
		in := SummaryInput{Title: sc.def.Name, Scope: ownerName(sc.tenant), Period: period, Coverage: res.Coverage, Complete: complete,
			TimeZone: sc.def.TimeZone,
			Sessions: func(ctx context.Context, from, to time.Time, each func(*match.Session) error) error {
				octx, q, err := s.ownerQuery(ctx, sc, from, to)
				if err != nil {
					return err
				}
				return s.o.Archive.Sessions(octx, q, each)
			}}
		for e, i := run.from, 0; i < 4; i++ {
			st := c.start(e)
			in.Previous = append(in.Previous, Period{From: st, To: e, Label: c.label(st, e)})
			e = st
		}
		if html, text, err = s.o.Summary.Summarize(ctx, in); err != nil {
			return 0, fmt.Errorf("summary: %w", err)
		}
	}
	run.complete, run.coverage, run.rows, run.sessions, run.csv, run.html, run.txt = complete, cov, int64(len(res.Rows)), sessions, csv.String(), html, text
	return 0, s.deliver(ctx, sc, run, period)
}

// payload is the report.ready webhook's body.
type payload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      payloadData `json:"data"`
}

type payloadData struct {
	ScheduleID string          `json:"scheduleId"`
	RunID      string          `json:"runId"`
	Name       string          `json:"name"`
	Tenant     *string         `json:"tenant"`
	Period     payloadPeriod   `json:"period"`
	OnDemand   bool            `json:"onDemand"`
	Complete   bool            `json:"complete"`
	Coverage   []coverageEntry `json:"coverage"`
	Rows       int64           `json:"rows"`
	Sessions   int64           `json:"sessions"`
	Summary    string          `json:"summary,omitempty"`
	CSV        string          `json:"csv,omitempty"`
	CSVOmitted bool            `json:"csvOmitted,omitempty"`
}

type payloadPeriod struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Label string    `json:"label"`
}

// EventReportReady is the webhook's event type.
const EventReportReady = "report.ready"

// deliver records the run as made and its deliveries, and queues them, in one transaction.
func (s *Service) deliver(ctx context.Context, sc *scheduleRow, run *runRow, period Period) error {
	now := s.o.Now().UTC()
	type delivery struct{ id, channel, target, payload string }
	var ds []delivery
	if sc.def.WebhookURL != "" {
		p := payload{Type: EventReportReady, Timestamp: now, Data: payloadData{ScheduleID: sc.id, RunID: run.id, Name: sc.def.Name,
			Tenant: sc.tenant, Period: payloadPeriod{From: run.from.UTC(), To: run.to.UTC(), Label: period.Label}, OnDemand: run.onDemand,
			Complete: run.complete, Coverage: run.coverage, Rows: run.rows, Sessions: run.sessions, Summary: run.txt}}
		if len(run.csv) <= s.o.MaxInlineCSV {
			p.Data.CSV = run.csv
		} else {
			p.Data.CSVOmitted = true
		}
		body, err := json.Marshal(p)
		if err != nil {
			return err
		}
		ds = append(ds, delivery{newID("rd_"), channelWebhook, sc.def.WebhookURL, string(body)})
	}
	for _, to := range sc.def.Email {
		ds = append(ds, delivery{newID("rd_"), channelEmail, to, ""})
	}
	covJSON, _ := json.Marshal(run.coverage)
	return s.st.InTx(ctx, func(tx store.Tx) error {
		n, err := tx.Exec(ctx, `UPDATE report_run SET status = ?, complete = ?, coverage = ?, rows_n = ?, sessions_n = ?, csv = ?,
			summary_html = ?, summary_text = ?, finished_ns = ? WHERE id = ? AND status = ?`,
			runDone, run.complete, string(covJSON), run.rows, run.sessions, run.csv, run.html, run.txt, store.NS(now), run.id, runPending)
		if err != nil || n == 0 {
			return err // n == 0: another worker made it
		}
		for _, d := range ds {
			if _, err := tx.Exec(ctx, `INSERT INTO report_delivery (id, run_id, channel, target, message_id, status, payload, created_ns, updated_ns)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.id, run.id, d.channel, d.target, "msg_"+d.id, deliveryPending, d.payload,
				store.NS(now), store.NS(now)); err != nil {
				return err
			}
			if _, err := s.jobs.InsertTx(ctx, tx, deliverArgs{DeliveryID: d.id}, deliverOpts); err != nil {
				return err
			}
		}
		return nil
	})
}
