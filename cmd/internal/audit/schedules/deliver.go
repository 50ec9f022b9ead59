package schedules

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report/mail"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// Delivery channels and statuses (the schema's ReportChannel and WebhookDeliveryStatus).
const (
	channelWebhook = "WEBHOOK"
	channelEmail   = "EMAIL"

	deliveryPending   = "PENDING"
	deliverySucceeded = "SUCCEEDED"
	deliveryFailed    = "FAILED"
	deliveryCancelled = "CANCELLED"
)

type deliveryRow struct {
	id, runID, channel, target, messageID, status, lastError, payload string
	attempts                                                          int64
	updated                                                           time.Time
}

const deliveryCols = `id, run_id, channel, target, message_id, status, attempts, last_error, payload, updated_ns`

func scanDelivery(r store.Row) (*deliveryRow, error) {
	var x deliveryRow
	var updated int64
	if err := r.Scan(&x.id, &x.runID, &x.channel, &x.target, &x.messageID, &x.status, &x.attempts, &x.lastError, &x.payload, &updated); err != nil {
		if store.IsNoRows(err) {
			return nil, errNoRow
		}
		return nil, err
	}
	x.updated = store.FromNS(updated)
	return &x, nil
}

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	s *Service
}

// Work makes one attempt; a failure with attempts left snoozes the job until the next step of
// the Standard Webhooks schedule (or the receiver's Retry-After), as the watch rules do.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	s := w.s
	d, err := scanDelivery(s.st.QueryRow(ctx, `SELECT `+deliveryCols+` FROM report_delivery WHERE id = ?`, job.Args.DeliveryID))
	if errors.Is(err, errNoRow) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.status != deliveryPending {
		return nil
	}
	run, err := scanRun(s.st.QueryRow(ctx, `SELECT `+runCols+` FROM report_run WHERE id = ?`, d.runID))
	if errors.Is(err, errNoRow) {
		return nil
	}
	if err != nil {
		return err
	}
	sc, err := s.getSchedule(ctx, s.st, run.scheduleID)
	if errors.Is(err, errNoRow) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := s.o.Owner(sc.tenant); !ok {
		// Checked again before every attempt, as the watch rules' deliveries are: a tenant
		// removed since the run was made gets nothing more.
		return s.cancelDelivery(ctx, d, "the schedule's owner no longer exists")
	}
	var result webhooks.Result
	var code int
	var retryAfter time.Duration
	var sendErr error
	switch d.channel {
	case channelWebhook:
		out := s.o.Client.Send(ctx, webhooks.Message{ID: d.messageID, URL: d.target, Body: []byte(d.payload), Keys: []webhooks.Secret{sc.secret}})
		result, code, retryAfter, sendErr = out.Result, out.StatusCode, out.RetryAfter, out.Err
	case channelEmail:
		result = webhooks.Delivered
		if s.o.Mailer == nil {
			result, sendErr = webhooks.Gone, errors.New("email is not configured")
		} else if sendErr = s.o.Mailer.Send(s.recipientCheck(ctx, sc.tenant), []string{d.target}, s.subject(sc, run), run.html, run.txt, Attachment{
			Name: csvName(run), ContentType: "text/csv; charset=utf-8", Data: []byte(run.csv)}); sendErr != nil {
			result = webhooks.Failed
			if errors.As(sendErr, new(*mail.RecipientError)) {
				result = webhooks.Gone // a recipient the owner may no longer mail: retrying cannot help
			}
		}
	}
	made := d.attempts + 1
	status, errText := deliveryFailed, ""
	if sendErr != nil {
		errText = sendErr.Error()
	}
	var snooze time.Duration
	switch result {
	case webhooks.Delivered:
		status = deliverySucceeded
	case webhooks.Failed:
		if dl, ok := s.o.Schedule.Next(int(made), retryAfter); ok {
			status, snooze = deliveryPending, dl
		}
	}
	now := s.o.Now()
	var next sql.NullInt64
	if snooze > 0 {
		next = sql.NullInt64{Int64: store.NS(now.Add(snooze)), Valid: true}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err = s.st.InTx(rctx, func(tx store.Tx) error {
		_, err := tx.Exec(rctx, `UPDATE report_delivery SET status = ?, attempts = ?, last_error = ?, next_attempt_ns = ?, updated_ns = ?
			WHERE id = ? AND attempts = ?`, status, made, errText, next, store.NS(now), d.id, d.attempts)
		return err
	})
	if err != nil {
		return fmt.Errorf("report schedules: record attempt of %s: %w", d.id, err)
	}
	s.logger.InfoContext(ctx, "report delivery attempt", "delivery", d.id, "run", run.id, "schedule", sc.id, "channel", d.channel,
		"attempt", made, "status_code", code, "next", status, "err", errText)
	if snooze > 0 {
		return river.JobSnooze(snooze)
	}
	return nil
}

// cancelDelivery ends a pending delivery without an attempt.
func (s *Service) cancelDelivery(ctx context.Context, d *deliveryRow, why string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := s.st.InTx(rctx, func(tx store.Tx) error {
		_, err := tx.Exec(rctx, `UPDATE report_delivery SET status = ?, last_error = ?, next_attempt_ns = NULL, updated_ns = ?
			WHERE id = ? AND status = ?`, deliveryCancelled, why, store.NS(s.o.Now()), d.id, deliveryPending)
		return err
	})
	if err != nil {
		return fmt.Errorf("report schedules: cancel delivery %s: %w", d.id, err)
	}
	s.logger.InfoContext(ctx, "report delivery cancelled", "delivery", d.id, "why", why)
	return nil
}

func (s *Service) subject(sc *scheduleRow, run *runRow) string {
	subj := "Restore audit: " + sc.def.Name + " (" + run.from.UTC().Format(time.RFC3339) + " to " + run.to.UTC().Format(time.RFC3339) + ")"
	if !run.complete {
		subj += " [incomplete]"
	}
	return subj
}

func csvName(run *runRow) string {
	return report.CSVFileName("restore-audit", run.from, run.to, !run.complete)
}

// onDemandStart is the start of the period of the schedule's length that ends at now.
func (c cadence) onDemandStart(now time.Time) time.Time {
	l := now.In(c.loc)
	switch c.every {
	case model.ReportPeriodDemo:
		return now.Add(-c.demo)
	case model.ReportPeriodWeek:
		return l.AddDate(0, 0, -7)
	case model.ReportPeriodMonth:
		return l.AddDate(0, -1, 0)
	}
	return l.AddDate(0, 0, -1)
}

// RunNow queues an on-demand run of the period of the schedule's length ending now.
func (s *Service) RunNow(ctx context.Context, id string) (*model.ReportRun, error) {
	sc, err := s.getSchedule(ctx, s.st, id)
	if errors.Is(err, errNoRow) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("report schedules: run now: %w", err)
	}
	if s.jobs == nil {
		return nil, errors.New("report schedules: no job client")
	}
	c, err := s.cadence(sc.def)
	if err != nil {
		return nil, err
	}
	now := s.o.Now().UTC()
	runID, _, err := s.queueRun(ctx, sc, c.onDemandStart(now).UTC(), now, true)
	if err != nil {
		return nil, err
	}
	// The run this call queued (not "the newest on-demand run": two calls at once each get their own).
	run, err := scanRun(s.st.QueryRow(ctx, `SELECT `+runCols+` FROM report_run WHERE id = ?`, runID))
	if err != nil {
		return nil, fmt.Errorf("report schedules: run now: %w", err)
	}
	return s.runModel(ctx, run)
}

func (s *Service) runModel(ctx context.Context, r *runRow) (*model.ReportRun, error) {
	ms, err := s.runModels(ctx, []*runRow{r})
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// runModels is the runs as GraphQL models, their deliveries read in one query.
func (s *Service) runModels(ctx context.Context, runs []*runRow) ([]*model.ReportRun, error) {
	out := make([]*model.ReportRun, len(runs))
	if len(runs) == 0 {
		return out, nil
	}
	byID := make(map[string]*model.ReportRun, len(runs))
	ids := make([]any, len(runs))
	for i, r := range runs {
		m := &model.ReportRun{ID: r.id, ScheduleID: r.scheduleID, From: r.from, To: r.to, OnDemand: r.onDemand,
			Status: model.ReportRunStatus(r.status), Complete: r.complete, Rows: int(r.rows), Sessions: int(r.sessions),
			CreatedAt: r.created, FinishedAt: r.finished, Coverage: []*model.ReportRunCoverage{}, Deliveries: []*model.ReportDelivery{}}
		if r.errText != "" {
			e := r.errText
			m.Error = &e
		}
		for _, c := range r.coverage {
			m.Coverage = append(m.Coverage, &model.ReportRunCoverage{Server: c.Server, From: c.From, To: c.To, Complete: c.Complete})
		}
		out[i], byID[r.id], ids[i] = m, m, r.id
	}
	rows, err := s.st.Query(ctx, `SELECT `+deliveryCols+` FROM report_delivery WHERE run_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)
		ORDER BY created_ns, id`, ids...)
	if err != nil {
		return nil, err
	}
	ds, err := store.Collect(rows, scanDelivery)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		md := &model.ReportDelivery{Channel: model.ReportChannel(d.channel), Target: d.target, MessageID: d.messageID,
			Status: model.WebhookDeliveryStatus(d.status), Attempts: int(d.attempts), UpdatedAt: d.updated}
		if d.channel == channelWebhook {
			md.Target = resolvers.RedactURL(d.target)
		}
		if d.lastError != "" {
			e := d.lastError
			md.Error = &e
		}
		m := byID[d.runID]
		m.Deliveries = append(m.Deliveries, md)
	}
	return out, nil
}

// Runs pages a schedule's runs newest first; after and the cursors are the store's keyset
// text (created_ns:id), which the resolvers seal.
func (s *Service) Runs(ctx context.Context, scheduleID string, first int, after string) (*model.ReportRunConnection, error) {
	conn := &model.ReportRunConnection{Edges: []*model.ReportRunEdge{}, PageInfo: &model.PageInfo{}}
	if err := s.st.QueryRow(ctx, `SELECT COUNT(*) FROM report_run WHERE schedule_id = ?`, scheduleID).Scan(&conn.TotalCount); err != nil {
		return nil, fmt.Errorf("report schedules: runs: %w", err)
	}
	where, args := `schedule_id = ?`, []any{scheduleID}
	if after != "" {
		ns, id, ok := strings.Cut(after, ":")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			return nil, &model.InputError{Field: "after", Msg: "invalid cursor"}
		}
		where += ` AND (created_ns < ? OR (created_ns = ? AND id < ?))`
		args = append(args, n, n, id)
		conn.PageInfo.HasPreviousPage = true
	}
	rows, err := s.st.Query(ctx, `SELECT `+runCols+` FROM report_run WHERE `+where+` ORDER BY created_ns DESC, id DESC LIMIT ?`,
		append(args, first+1)...)
	if err != nil {
		return nil, fmt.Errorf("report schedules: runs: %w", err)
	}
	runs, err := store.Collect(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("report schedules: runs: %w", err)
	}
	if len(runs) > first {
		runs, conn.PageInfo.HasNextPage = runs[:first], true
	}
	ms, err := s.runModels(ctx, runs)
	if err != nil {
		return nil, fmt.Errorf("report schedules: runs: %w", err)
	}
	for i, r := range runs {
		conn.Edges = append(conn.Edges, &model.ReportRunEdge{Cursor: strconv.FormatInt(store.NS(r.created), 10) + ":" + r.id, Node: ms[i]})
	}
	return conn, nil
}

// recipientCheck puts on ctx the owner's allowed domains now, which report/mail applies to
// every recipient before sending: an address the owner may no longer email (a domain taken
// away by a reload) gets nothing.
func (s *Service) recipientCheck(ctx context.Context, owner *string) context.Context {
	return mail.WithRecipientCheck(ctx, func(addr string) error {
		if !s.domainAllowed(owner, addr) {
			return fmt.Errorf("%s is outside the domains allowed for %s", addr, ownerName(owner))
		}
		return nil
	})
}
