package watchrules

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
)

// Delivery statuses (the schema's WebhookDeliveryStatus).
const (
	statusPending   = "PENDING"
	statusSucceeded = "SUCCEEDED"
	statusFailed    = "FAILED"
	statusCancelled = "CANCELLED"
)

// triggerTest marks a test delivery (testWatchRule): no session, any number per rule.
const triggerTest = "TEST"

var errNoRow = errors.New("no such row")

// ruleRow is a stored rule.
type ruleRow struct {
	id             string
	tenant         *string
	def            match.Definition
	enabled        bool
	disabledReason string
	secret         webhooks.Secret
	previous       webhooks.Secret
	previousUntil  time.Time
	createdBy      string
	created        time.Time
	updated        time.Time
}

// keys are the secrets that sign a delivery made at now: the current one, and the previous one
// while a rotation overlaps.
func (r *ruleRow) keys(now time.Time) []webhooks.Secret {
	if !r.previous.IsZero() && now.Before(r.previousUntil) {
		return []webhooks.Secret{r.secret, r.previous}
	}
	return []webhooks.Secret{r.secret}
}

const ruleCols = `id, tenant, definition, enabled, disabled_reason, secret, previous_secret, previous_until_ns, created_by, created_ns, updated_ns`

func scanRule(r store.Row) (*ruleRow, error) {
	var x ruleRow
	var tenant sql.NullString
	var def, secret, previous string
	var until, created, updated int64
	if err := r.Scan(&x.id, &tenant, &def, &x.enabled, &x.disabledReason, &secret, &previous, &until, &x.createdBy, &created, &updated); err != nil {
		if store.IsNoRows(err) {
			return nil, errNoRow
		}
		return nil, err
	}
	if tenant.Valid {
		x.tenant = &tenant.String
	}
	if err := json.Unmarshal([]byte(def), &x.def); err != nil {
		return nil, fmt.Errorf("rule %s: stored definition: %w", x.id, err)
	}
	var err error
	if x.secret, err = webhooks.ParseSecret(secret); err != nil {
		return nil, fmt.Errorf("rule %s: stored secret: %w", x.id, err)
	}
	if previous != "" {
		if x.previous, err = webhooks.ParseSecret(previous); err != nil {
			return nil, fmt.Errorf("rule %s: stored previous secret: %w", x.id, err)
		}
	}
	x.previousUntil, x.created, x.updated = store.FromNS(until), store.FromNS(created), store.FromNS(updated)
	return &x, nil
}

// querier is a store transaction or the store's read pool.
type querier = store.Querier

func getRule(ctx context.Context, q querier, id string) (*ruleRow, error) {
	return scanRule(q.QueryRow(ctx, `SELECT `+ruleCols+` FROM watch_rule WHERE id = ?`, id))
}

func listRules(ctx context.Context, q querier, where string, args ...any) ([]*ruleRow, error) {
	rows, err := q.Query(ctx, `SELECT `+ruleCols+` FROM watch_rule `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, err
	}
	return store.Collect(rows, scanRule)
}

// bumpUpdated sets a rule's updated_ns on a change, given the store's clock twice: the clock,
// or one past the rule's last change when the clock does not read later (two changes within
// one tick, or a clock set back). (id, updated_ns) then names one version of the rule, as the
// rules hook's cache needs (activeRules).
const bumpUpdated = `updated_ns = CASE WHEN updated_ns >= ? THEN updated_ns + 1 ELSE ? END`

func insertRule(ctx context.Context, tx store.Tx, r *ruleRow) error {
	def, err := json.Marshal(r.def)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO watch_rule (id, tenant, name, trigger_on, definition, enabled, disabled_reason, secret,
		previous_secret, previous_until_ns, created_by, created_ns, updated_ns) VALUES (?, ?, ?, ?, ?, ?, '', ?, '', 0, ?, ?, ?)`,
		r.id, r.tenant, r.def.Name, string(r.def.On), string(def), r.enabled, r.secret.Reveal(), r.createdBy, store.NS(r.created), store.NS(r.updated))
	return err
}

// deliveryRow is a stored delivery.
type deliveryRow struct {
	id, ruleID, messageID, eventType, trigger string
	server, sessionID, orgID                  string
	lastError, status                         string
	attempts, retryBase                       int64
	nextAttempt                               *time.Time
	payload                                   string
	created, updated                          time.Time
}

const deliveryCols = `id, rule_id, message_id, event_type, trigger_on, server, session_id, org_id, last_error, status,
	attempts, retry_base, next_attempt_ns, payload, created_ns, updated_ns`

func scanDelivery(r store.Row) (*deliveryRow, error) {
	var d deliveryRow
	var next sql.NullInt64
	var created, updated int64
	err := r.Scan(&d.id, &d.ruleID, &d.messageID, &d.eventType, &d.trigger, &d.server, &d.sessionID, &d.orgID, &d.lastError,
		&d.status, &d.attempts, &d.retryBase, &next, &d.payload, &created, &updated)
	if err != nil {
		if store.IsNoRows(err) {
			return nil, errNoRow
		}
		return nil, err
	}
	d.nextAttempt = store.TimePtr(next)
	d.created, d.updated = store.FromNS(created), store.FromNS(updated)
	return &d, nil
}

func getDelivery(ctx context.Context, q querier, id string) (*deliveryRow, error) {
	return scanDelivery(q.QueryRow(ctx, `SELECT `+deliveryCols+` FROM webhook_delivery WHERE id = ?`, id))
}

// insertDelivery records a new message; false when this (rule, session, trigger) already has
// one (the unique index), in which case nothing is written.
func insertDelivery(ctx context.Context, tx store.Tx, d *deliveryRow) (bool, error) {
	n, err := tx.Exec(ctx, `INSERT INTO webhook_delivery (id, rule_id, message_id, event_type, trigger_on, server, session_id,
		org_id, status, attempts, next_attempt_ns, payload, created_ns, updated_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		d.id, d.ruleID, d.messageID, d.eventType, d.trigger, d.server, d.sessionID, d.orgID, d.status,
		store.NullNS(d.nextAttempt), d.payload, store.NS(d.created), store.NS(d.updated))
	return n == 1, err
}

// attemptRow is one recorded attempt.
type attemptRow struct {
	deliveryID string
	n          int64
	at         time.Time
	statusCode *int
	err        string
	durationMS int64
}

func attemptsOf(ctx context.Context, q querier, ids []string) (map[string][]attemptRow, error) {
	out := map[string][]attemptRow{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := q.Query(ctx, `SELECT delivery_id, n, at_ns, status_code, error, duration_ms FROM webhook_attempt
		WHERE delivery_id IN (`+placeholders(len(ids))+`) ORDER BY delivery_id, n`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a attemptRow
		var at int64
		var code sql.NullInt64
		if err := rows.Scan(&a.deliveryID, &a.n, &at, &code, &a.err, &a.durationMS); err != nil {
			return nil, err
		}
		a.at = store.FromNS(at)
		if code.Valid {
			c := int(code.Int64)
			a.statusCode = &c
		}
		out[a.deliveryID] = append(out[a.deliveryID], a)
	}
	return out, rows.Err()
}

func newID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + hex.EncodeToString(b)
}
