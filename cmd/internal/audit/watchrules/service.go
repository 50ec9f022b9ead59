// Package watchrules keeps watch rules and their webhook deliveries in the store, evaluates the
// rules inside the watcher's archive transaction (Hook), and delivers matches with River: one
// job per (rule, session, trigger), inserted in that same transaction, retried on the Standard
// Webhooks schedule, re-checked against the rule owner's scope before every attempt.
//
// It implements resolvers.WatchRules; the resolvers check the caller's rights first.
package watchrules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// MaxRulesPerOwner bounds the rules of one tenant (or provider-wide): every archived change is
// evaluated against every enabled rule.
const MaxRulesPerOwner = 200

// Options configure a Service.
type Options struct {
	Store *store.Store
	// Guard checks receiver URLs when rules are written; Client (built on the same Guard)
	// delivers.
	Guard  *webhooks.Guard
	Client *webhooks.Client
	// Schedule is the retry schedule.
	Schedule webhooks.Schedule
	// OwnerScope reports whether a session of organisation orgID on server is in the scope of
	// a rule's owner now (owner nil: a provider-wide rule, which sees everything; false for a
	// tenant that no longer exists and for detached sessions, orgID ""). Rules match and
	// deliver only inside it; it is asked at each match and again before each delivery, so a
	// reload that narrows a tenant stops its rules at once. app builds it once.
	OwnerScope func(owner *string, server, orgID string) bool
	// Workers is how many deliveries this replica makes at once (default 10).
	Workers int
	// PerOwnerWorkers is how many of those one rule owner (a tenant; provider-wide rules are
	// one owner) may hold at once (default a third of Workers, at least 1; at most Workers-1
	// when Workers > 1, so another owner always finds a worker). See ownerSlots for the bound
	// this puts on one owner's slow receiver delaying another's deliveries.
	PerOwnerWorkers int
	// HistoryRetention deletes finished deliveries (with their attempts) whose last activity
	// is older than this (0: keep them all). See pruneDeliveries for what is never
	// deleted.
	HistoryRetention time.Duration
	// PruneInterval is how often the retention runs (default: hourly, or a quarter of the
	// retention when that is shorter, at least every second). It runs as a River periodic
	// job on the process's River client (Setup): the River leader queues it, one replica
	// works it.
	PruneInterval time.Duration
	// ItemActions is the restore front door's record of item actions, joined to the item
	// events of sessions started through the gateway (the destructive condition, the ITEM
	// payload's actors). nil: no join (the events alone decide, no actor is named).
	ItemActions ItemActions
	Logger      *slog.Logger
}

// ItemActions looks up the item actions people took through the gateway on one VBO session
// (app wires cmd/internal/restore/actionlog in).
type ItemActions interface {
	// ItemActions returns the item actions (DOWNLOAD, SEND, RESTORE_TO, RESTORE_TO_ORIGINAL)
	// recorded on VBO session vboID of server, oldest first; none for a session not started
	// through the gateway. It is called inside the archive transaction and must not write.
	ItemActions(ctx context.Context, server, vboID string) ([]match.ItemAction, error)
}

// Service is the store-backed watch rules. Safe for concurrent use.
type Service struct {
	st       *store.Store
	guard    *webhooks.Guard
	client   *webhooks.Client
	schedule webhooks.Schedule
	inScope  func(owner *string, server, orgID string) bool // Options.OwnerScope
	actions  ItemActions                                    // Options.ItemActions (nil: no join)
	logger   *slog.Logger
	jobs     *jobs.Client  // the process's River client, set by Setup (queue.go)
	keep     time.Duration // delivery history retention (0: keep everything)
	slots    *ownerSlots   // each owner's share of this replica's workers

	workers    int           // Options.Workers: this replica's delivery queue
	pruneEvery time.Duration // Options.PruneInterval

	// now is the store's clock (Store.Now; tests may stop it).
	now func(context.Context) (time.Time, error)

	mu     sync.Mutex
	active *activeSet // the enabled rules as last read (activeRules); nil before

	counts counters
}

var _ resolvers.WatchRules = (*Service)(nil)

// New builds the service. Its deliveries run on the process's River client: jobs.New sets the
// service up (Setup) and app starts the client.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Store == nil || o.Guard == nil || o.Client == nil || o.OwnerScope == nil {
		return nil, errors.New("watchrules.New: Store, Guard, Client and OwnerScope are required")
	}
	if o.Schedule.Attempts() == 0 {
		return nil, errors.New("watchrules.New: a retry schedule is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = 10
	}
	if o.PerOwnerWorkers <= 0 {
		o.PerOwnerWorkers = max(1, o.Workers/3)
	}
	if o.Workers > 1 {
		o.PerOwnerWorkers = min(o.PerOwnerWorkers, o.Workers-1)
	}
	if o.HistoryRetention < 0 {
		return nil, errors.New("watchrules.New: HistoryRetention must not be negative")
	}
	if o.HistoryRetention > 0 && o.PruneInterval <= 0 {
		o.PruneInterval = min(time.Hour, max(o.HistoryRetention/4, time.Second))
	}
	s := &Service{st: o.Store, guard: o.Guard, client: o.Client, schedule: o.Schedule, inScope: o.OwnerScope, actions: o.ItemActions,
		logger: o.Logger, keep: o.HistoryRetention, slots: newOwnerSlots(o.PerOwnerWorkers),
		workers: o.Workers, pruneEvery: o.PruneInterval, now: o.Store.Now}
	return s, nil
}

// PruneHistory applies the delivery history retention now: it deletes finished deliveries
// whose last activity is older than HistoryRetention, with their attempts, and returns how
// many (0 when the retention is off). The periodic job calls it; so may tests.
func (s *Service) PruneHistory(ctx context.Context) (int64, error) {
	if s.keep <= 0 {
		return 0, nil
	}
	now, err := s.now(ctx)
	if err != nil {
		return 0, fmt.Errorf("watch rules: prune history: %w", err)
	}
	n, err := pruneDeliveries(ctx, s.st, deliveryPrune{before: now.Add(-s.keep)})
	s.counts.pruned.Add(n)
	if n > 0 {
		s.logger.InfoContext(ctx, "webhook delivery history pruned", "deliveries", n, "retention", s.keep.String())
	}
	if err != nil {
		return n, fmt.Errorf("watch rules: prune history: %w", err)
	}
	return n, nil
}

func inputError(msg string) error { return &model.InputError{Msg: msg} }

// definitionFrom turns the GraphQL input into a rule definition.
func definitionFrom(in model.WatchRuleInput) match.Definition {
	d := match.Definition{
		Name: strings.TrimSpace(in.Name), URL: strings.TrimSpace(in.URL), On: match.Trigger(in.On), Filter: in.Filter,
		MinItems: in.MinItems, MinBytes: in.MinBytes, EventTypes: in.EventTypes,
		ClientMachineNotIn: in.ClientMachineNotIn, ViaAddressIn: in.ViaAddressIn, StartedOutsideGateway: in.StartedOutsideGateway,
		Destructive: in.Destructive,
	}
	if in.SourceContains != nil {
		d.SourceContains = *in.SourceContains
	}
	if in.FirstRestoreFromMachine != nil {
		d.FirstRestoreFromMachine = *in.FirstRestoreFromMachine
	}
	if b := in.OutsideBusinessHours; b != nil {
		h := &match.BusinessHours{TimeZone: b.TimeZone}
		for _, day := range b.Days {
			h.Days = append(h.Days, string(day))
		}
		if b.Start != nil {
			h.Start = *b.Start
		}
		if b.End != nil {
			h.End = *b.End
		}
		d.OutsideBusinessHours = h
	}
	return d
}

// validate compiles d and checks its URL against the SSRF policy (resolving it now; every
// connection is checked again).
func (s *Service) validate(ctx context.Context, d match.Definition) error {
	if _, err := match.Compile(d); err != nil {
		var ie *model.InputError
		if errors.As(err, &ie) {
			return ie
		}
		return inputError(err.Error())
	}
	if _, err := s.guard.CheckURL(ctx, d.URL); err != nil {
		return inputError("url: " + err.Error())
	}
	return nil
}

// List returns the rules of owners.
func (s *Service) List(ctx context.Context, owners resolvers.RuleOwners) ([]*model.WatchRule, error) {
	var rows []*ruleRow
	var err error
	if owners.All {
		rows, err = listRules(ctx, s.st, "")
	} else {
		rows, err = listRules(ctx, s.st, "WHERE tenant = ?", owners.Tenant)
	}
	if err != nil {
		return nil, fmt.Errorf("watch rules: list: %w", err)
	}
	out := make([]*model.WatchRule, len(rows))
	for i, r := range rows {
		out[i] = ruleModel(r)
	}
	return out, nil
}

// Get returns one rule.
func (s *Service) Get(ctx context.Context, id string) (*model.WatchRule, error) {
	r, err := getRule(ctx, s.st, id)
	if errors.Is(err, errNoRow) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("watch rules: get: %w", err)
	}
	return ruleModel(r), nil
}

// SigningSecrets are the secrets that sign a rule's deliveries now: its current secret, and
// the previous one while a rotation overlaps. For receivers in the gateway's own process (the
// demo's), which verify deliveries without being told the secret; nothing serves them over
// the network. An unknown rule is resolvers.ErrNotFound.
func (s *Service) SigningSecrets(ctx context.Context, id string) ([]webhooks.Secret, error) {
	r, err := getRule(ctx, s.st, id)
	if err != nil {
		return nil, wrapStoreErr("signing secrets", err)
	}
	// The store's clock: the one the overlap's end was written with and deliveries are signed by.
	now, err := s.now(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch rules: signing secrets: %w", err)
	}
	return r.keys(now), nil
}

// Create stores a new rule with a fresh secret.
func (s *Service) Create(ctx context.Context, owner *string, createdBy string, in model.WatchRuleInput) (*model.WatchRuleCreated, error) {
	d := definitionFrom(in)
	if err := s.validate(ctx, d); err != nil {
		return nil, err
	}
	secret, err := webhooks.NewSecret()
	if err != nil {
		return nil, err
	}
	now, err := s.now(ctx)
	if err != nil {
		return nil, err
	}
	r := &ruleRow{id: newID("wr_"), tenant: owner, def: d, enabled: in.Enabled == nil || *in.Enabled, secret: secret,
		createdBy: createdBy, created: now, updated: now}
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		var n int
		q := `SELECT COUNT(*) FROM watch_rule WHERE tenant IS NULL`
		args := []any{}
		if owner != nil {
			q, args = `SELECT COUNT(*) FROM watch_rule WHERE tenant = ?`, []any{*owner}
		}
		if err := tx.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			return err
		}
		if n >= MaxRulesPerOwner {
			return inputError(fmt.Sprintf("at most %d rules per tenant", MaxRulesPerOwner))
		}
		return insertRule(ctx, tx, r)
	})
	if err != nil {
		return nil, wrapStoreErr("create", err)
	}
	return &model.WatchRuleCreated{Rule: ruleModel(r), Secret: secret.Reveal()}, nil
}

// Update replaces a rule's definition (enabled only when given; enabling clears the reason).
func (s *Service) Update(ctx context.Context, id string, in model.WatchRuleInput) (*model.WatchRule, error) {
	d := definitionFrom(in)
	if err := s.validate(ctx, d); err != nil {
		return nil, err
	}
	now, err := s.now(ctx)
	if err != nil {
		return nil, err
	}
	def, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out *ruleRow
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		r, err := getRule(ctx, tx, id)
		if err != nil {
			return err
		}
		enabled, reason := r.enabled, r.disabledReason
		if in.Enabled != nil {
			enabled = *in.Enabled
			if enabled {
				reason = ""
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE watch_rule SET name = ?, trigger_on = ?, definition = ?, enabled = ?, disabled_reason = ?,
			`+bumpUpdated+` WHERE id = ?`, d.Name, string(d.On), string(def), enabled, reason, store.NS(now), store.NS(now), id); err != nil {
			return err
		}
		out, err = getRule(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, wrapStoreErr("update", err)
	}
	return ruleModel(out), nil
}

// Delete removes a rule with its deliveries (queued jobs then find nothing to do).
func (s *Service) Delete(ctx context.Context, id string) (bool, error) {
	var existed bool
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_attempt WHERE delivery_id IN (SELECT id FROM webhook_delivery WHERE rule_id = ?)`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_delivery WHERE rule_id = ?`, id); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM watch_rule WHERE id = ?`, id)
		existed = n > 0
		return err
	})
	if err != nil {
		return false, wrapStoreErr("delete", err)
	}
	return existed, nil
}

// RotateSecret issues a new secret; the current one keeps signing for overlap.
func (s *Service) RotateSecret(ctx context.Context, id string, overlap time.Duration) (*model.WatchRuleCreated, error) {
	secret, err := webhooks.NewSecret()
	if err != nil {
		return nil, err
	}
	now, err := s.now(ctx)
	if err != nil {
		return nil, err
	}
	var out *ruleRow
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		r, err := getRule(ctx, tx, id)
		if err != nil {
			return err
		}
		previous, until := "", int64(0)
		if overlap > 0 {
			previous, until = r.secret.Reveal(), store.NS(now.Add(overlap))
		}
		if _, err := tx.Exec(ctx, `UPDATE watch_rule SET secret = ?, previous_secret = ?, previous_until_ns = ?, `+bumpUpdated+` WHERE id = ?`,
			secret.Reveal(), previous, until, store.NS(now), store.NS(now), id); err != nil {
			return err
		}
		out, err = getRule(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, wrapStoreErr("rotate secret", err)
	}
	return &model.WatchRuleCreated{Rule: ruleModel(out), Secret: secret.Reveal()}, nil
}

// Test sends a signed test message now and records it (no retries).
func (s *Service) Test(ctx context.Context, id string) (*model.WebhookDelivery, error) {
	r, err := getRule(ctx, s.st, id)
	if errors.Is(err, errNoRow) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	now, err := s.now(ctx)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{
		"type": match.EventTest, "timestamp": now.UTC().Truncate(time.Millisecond),
		"rule": match.PayloadRule{ID: r.id, Name: r.def.Name, On: r.def.On},
		"data": map[string]string{"message": "A test delivery from vbo-gateway: the signature verifies with this rule's secret."},
	})
	if err != nil {
		return nil, err
	}
	did := newID("wd_")
	d := &deliveryRow{id: did, ruleID: r.id, messageID: "msg_" + strings.TrimPrefix(did, "wd_"), eventType: match.EventTest,
		trigger: triggerTest, status: statusPending, payload: string(body), created: now, updated: now}
	if err := s.st.InTx(ctx, func(tx store.Tx) error { _, err := insertDelivery(ctx, tx, d); return err }); err != nil {
		return nil, wrapStoreErr("test", err)
	}
	if _, err := s.attempt(ctx, d, r, false); err != nil {
		return nil, err
	}
	return s.Delivery(ctx, did)
}

// Delivery returns one delivery.
func (s *Service) Delivery(ctx context.Context, id string) (*model.WebhookDelivery, error) {
	d, err := getDelivery(ctx, s.st, id)
	if errors.Is(err, errNoRow) {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("watch rules: delivery: %w", err)
	}
	att, err := attemptsOf(ctx, s.st, []string{id})
	if err != nil {
		return nil, err
	}
	return deliveryModel(d, att[id]), nil
}

// Redeliver queues a recorded message again (same webhook-id and body), with a fresh retry
// schedule; one already queued is made due now.
func (s *Service) Redeliver(ctx context.Context, id string) (*model.WebhookDelivery, error) {
	now, err := s.now(ctx)
	if err != nil {
		return nil, err
	}
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		n, err := tx.Exec(ctx, `UPDATE webhook_delivery SET status = ?, retry_base = attempts, next_attempt_ns = ?, last_error = '',
			updated_ns = ? WHERE id = ?`, statusPending, store.NS(now), store.NS(now), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return errNoRow
		}
		var round int64
		if err := tx.QueryRow(ctx, `SELECT retry_base FROM webhook_delivery WHERE id = ?`, id).Scan(&round); err != nil {
			return err
		}
		return s.insertTx(ctx, tx, deliverArgs{DeliveryID: id, Round: round})
	})
	if err != nil {
		return nil, wrapStoreErr("redeliver", err)
	}
	return s.Delivery(ctx, id)
}

// Deliveries pages a rule's deliveries, newest first (keyset on created, id). after and the
// edges' cursors are plain keyset text ("<created ns>:<id>"); the resolvers seal them.
func (s *Service) Deliveries(ctx context.Context, ruleID string, first int, after string) (*model.WebhookDeliveryConnection, error) {
	where, args := `WHERE rule_id = ?`, []any{ruleID}
	if after != "" {
		c, id, err := parseKeyset(after)
		if err != nil {
			return nil, err
		}
		where += ` AND (created_ns < ? OR (created_ns = ? AND id < ?))`
		args = append(args, c, c, id)
	}
	rows, err := s.st.Query(ctx, `SELECT `+deliveryCols+` FROM webhook_delivery `+where+
		` ORDER BY created_ns DESC, id DESC LIMIT ?`, append(args, first+1)...)
	if err != nil {
		return nil, fmt.Errorf("watch rules: deliveries: %w", err)
	}
	ds, err := store.Collect(rows, scanDelivery)
	if err != nil {
		return nil, err
	}
	var total int
	if err := s.st.QueryRow(ctx, `SELECT COUNT(*) FROM webhook_delivery WHERE rule_id = ?`, ruleID).Scan(&total); err != nil {
		return nil, err
	}
	conn := &model.WebhookDeliveryConnection{Edges: []*model.WebhookDeliveryEdge{}, TotalCount: total,
		PageInfo: &model.PageInfo{HasPreviousPage: after != ""}}
	if len(ds) > first {
		ds, conn.PageInfo.HasNextPage = ds[:first], true
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.id
	}
	att, err := attemptsOf(ctx, s.st, ids)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		conn.Edges = append(conn.Edges, &model.WebhookDeliveryEdge{Cursor: strconv.FormatInt(store.NS(d.created), 10) + ":" + d.id,
			Node: deliveryModel(d, att[d.id])})
	}
	return conn, nil
}

// parseKeyset reads "<created ns>:<delivery id>".
func parseKeyset(s string) (int64, string, error) {
	c, id, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(c, 10, 64)
	if !ok || err != nil || !strings.HasPrefix(id, "wd_") {
		return 0, "", inputError("after: invalid cursor")
	}
	return n, id, nil
}

// wrapStoreErr maps "no such row" to not found and keeps input errors as they are.
func wrapStoreErr(op string, err error) error {
	var ie *model.InputError
	switch {
	case errors.Is(err, errNoRow):
		return resolvers.ErrNotFound
	case errors.As(err, &ie):
		return err
	}
	return fmt.Errorf("watch rules: %s: %w", op, err)
}
