package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
	"github.com/vbo-gateway/vbo-gateway/graph/cost"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// queryCost estimates every operation after validation and before any resolver runs
// (graph/cost: upstream calls and response objects), refuses one over the caller's limits
// (costMode enforce; measure only logs), and reports the estimate and the upstream calls the
// request actually made in extensions.cost on every response.
//
// gqlgen's own complexity walk (extension.FixedComplexityLimit) is not used: it expands
// fragment spreads without memoisation, 2^n steps for n fragments that spread each other twice.
type queryCost struct {
	est     *cost.Estimator
	lim     config.Limits
	backend *loaders.Backend
	known   func(server string) (int, bool) // nil: never known
	logger  *slog.Logger
	// reads answers session listings from the restore watch's archive (nil: VBO only); the
	// estimate counts no upstream call for what it answers. cursors opens its cursors.
	reads   *resolvers.ArchiveReads
	cursors *gid.Cursors
}

var (
	_ graphql.HandlerExtension        = (*queryCost)(nil)
	_ graphql.OperationContextMutator = (*queryCost)(nil)
	_ graphql.ResponseInterceptor     = (*queryCost)(nil)
)

func newQueryCost(schema *ast.Schema, lim config.Limits, backend *loaders.Backend,
	known func(string) (int, bool), logger *slog.Logger) (*queryCost, error) {
	est, err := cost.New(schema, backend.Paging())
	if err != nil {
		return nil, err
	}
	if known == nil {
		known = func(string) (int, bool) { return 0, false }
	}
	return &queryCost{est: est, lim: lim, backend: backend, known: known, logger: logger}, nil
}

func (q *queryCost) ExtensionName() string                   { return "QueryCost" }
func (q *queryCost) Validate(graphql.ExecutableSchema) error { return nil }

// meter is one request's cost: the upstream calls its clients made, and the estimate.
type meter struct {
	calls upstream.CallCounter

	mu       sync.Mutex
	estimate *cost.Estimate
	limits   config.RoleLimits
	over     bool
}

type meterKey struct{}

// withMeter gives every GraphQL request a meter, and makes its upstream calls count on it.
func withMeter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withNewMeter(r.Context(), &meter{})))
	})
}

// withNewMeter makes m the operation's meter and its upstream calls count on it (HTTP
// requests: withMeter; websocket operations: websocket.go).
func withNewMeter(ctx context.Context, m *meter) context.Context {
	return upstream.WithCallCounter(context.WithValue(ctx, meterKey{}, m), &m.calls)
}

func meterFrom(ctx context.Context) *meter {
	m, _ := ctx.Value(meterKey{}).(*meter)
	return m
}

// visible is what the caller sees, given the servers it sees (resolvers.VisibleServers). A
// provider admin sees every organisation: the count the servers gave when last listed; a server
// never listed yet counts one (a lower bound), and unknown lists the servers to ask should the
// count matter.
func (q *queryCost) visible(p *auth.Principal, servers []string) (v cost.Visible, unknown []string) {
	v.Servers = len(servers)
	if !p.SeesAll() {
		v.Organizations, v.Tenant = p.OrgCount(), true
		return v, nil
	}
	for _, s := range servers {
		if n, ok := q.known(s); ok {
			v.Organizations += n
		} else {
			v.Organizations++
			unknown = append(unknown, s)
		}
	}
	return v, unknown
}

// archiveEstimate is cost.Archive for one request: the archive's coverage, read once per
// request (at the first listing the estimate meets; the resolvers share that read) and judged by the resolvers' rule (ArchiveReads.CoveredBy)
// for every server the caller sees. The resolvers judge again, for the servers a listing
// actually reads (a subset): a listing they answer from the archive is never estimated at
// more calls than it makes, except when coverage changes in between (a poll falling behind
// maxLag), when the listing reads VBO for calls the estimate did not count.
type archiveEstimate struct {
	ctx     context.Context
	reads   *resolvers.ArchiveReads
	cursors *gid.Cursors
	servers []string

	once sync.Once
	cov  map[string]resolvers.ArchiveCoverage
}

func (a *archiveEstimate) Covers(from, to *time.Time) bool {
	a.once.Do(func() {
		// Through the request's coverage memo (loaders.ArchiveCoverage): the resolvers that
		// run next judge on the same read instead of reading the store again.
		if cov, _, err := a.reads.Covers(a.ctx, a.servers, loaders.Window{}); err == nil {
			a.cov = cov // unreadable: VBO's cost (the resolvers read VBO too)
		}
	})
	return a.cov != nil && a.reads.CoveredBy(a.cov, a.servers, loaders.Window{From: from, To: to})
}

func (a *archiveEstimate) Continues(after string) bool {
	return a.cursors != nil && resolvers.IsArchiveCursor(a.cursors, after)
}

// assumedOrganizations is the organisations assumed on a server never listed, for an estimate
// that must be an upper bound.
const assumedOrganizations = 1000

// orgCountWait bounds the wait for organisation lists before execution.
const orgCountWait = 2 * time.Second

// countOrganizations asks servers for their organisations (through the request's loaders: the
// lists the query itself reads next, counted as its calls), waiting at most a third of what
// is left of the request. A server that fails counts 0: its organisations will not be in the
// answer either (the failure is reported by the fields that need them).
func (q *queryCost) countOrganizations(ctx context.Context, servers []string) int {
	wait := orgCountWait
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d)/3)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	counts := make([]int, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			if orgs, err := loaders.For(ctx).Organizations(ctx, s); err == nil {
				counts[i] = len(orgs)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func (q *queryCost) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p := auth.FromContext(ctx)
	m := meterFrom(ctx)
	if p == nil {
		return nil // the auth gate runs first; nothing to estimate for
	}
	if m == nil {
		// Every transport gives its operations a meter (withMeter, websocket.go); one that did
		// not is still held to the limits, without extensions.cost.
		m = &meter{}
	}
	// The role a refusal names: the caller's, and the limits' entry when it is another one (a
	// tenant admin is held to limits.roles.TENANT_AUDITOR, the tenant limits).
	role, limitsRole := string(p.Role), costRole(p)
	if limitsRole != role {
		role += " (the tenant limits, limits.roles." + limitsRole + ")"
	}
	limits := q.lim.CostLimits(limitsRole)
	servers := resolvers.VisibleServers(q.backend, p, nil) // the resolvers' rule
	vis, unknown := q.visible(p, servers)
	if q.reads != nil {
		vis.Archive = &archiveEstimate{ctx: ctx, reads: q.reads, cursors: q.cursors, servers: servers}
	}
	est := q.est.Estimate(oc.Operation, oc.Variables, vis)
	if len(unknown) > 0 && est.SizedByOrganizations && !over(est, limits) {
		// Servers never listed yet (a cold start): refused without a call when over the limits
		// even with one organisation each; accepted with the estimate for assumedOrganizations
		// each when within them even so; else the servers' own count decides.
		hi := vis
		hi.Organizations += len(unknown) * (assumedOrganizations - 1)
		if e := q.est.Estimate(oc.Operation, oc.Variables, hi); !over(e, limits) {
			est = e
		} else {
			vis.Organizations += q.countOrganizations(ctx, unknown) - len(unknown)
			est = q.est.Estimate(oc.Operation, oc.Variables, vis)
		}
	}
	refuse := over(est, limits)
	m.mu.Lock()
	m.estimate, m.limits, m.over = &est, limits, refuse
	m.mu.Unlock()
	if !refuse {
		return nil
	}
	e := refusal(est, limits, role)
	if q.lim.CostMode == config.CostMeasure {
		q.logger.InfoContext(ctx, "query over the cost limits (measure mode: not refused)", "operation", telemetry.OperationName(oc),
			"role", role, "reason", e.Message, "request_id", requestid.From(ctx))
		return nil
	}
	q.logger.InfoContext(ctx, "query refused: over the cost limits", "operation", telemetry.OperationName(oc), "role", role,
		"upstream_calls", est.UpstreamCalls, "response_objects", est.ResponseObjects, "request_id", requestid.From(ctx))
	return e
}

// costRole is the role whose cost limits (limits.roles) apply to p. A caller who does not see
// every organisation is a tenant's: a TENANT_ADMIN reads exactly what its tenant's auditors
// read, so it gets the tenant limits (limits.roles.TENANT_AUDITOR, 500 upstream calls and
// 50,000 objects by default), not the provider's. Only a provider admin gets its own.
func costRole(p *auth.Principal) string {
	if p.SeesAll() {
		return string(p.Role)
	}
	return config.RoleTenantAuditor
}

func over(est cost.Estimate, l config.RoleLimits) bool {
	return est.UpstreamCalls > int64(l.MaxUpstreamCalls) || est.ResponseObjects > int64(l.MaxResponseObjects)
}

// refusal names the limit exceeded most (relative to its maximum), the field that contributes
// most to it and what to lower.
func refusal(est cost.Estimate, l config.RoleLimits, role string) *gqlerror.Error {
	d, limit, maxV := cost.UpstreamCalls, "maxUpstreamCalls", int64(l.MaxUpstreamCalls)
	if float64(est.ResponseObjects)/float64(l.MaxResponseObjects) > float64(est.UpstreamCalls)/float64(l.MaxUpstreamCalls) {
		d, limit, maxV = cost.ResponseObjects, "maxResponseObjects", int64(l.MaxResponseObjects)
	}
	value := est.Value(d)
	top := est.Top[d]
	// Short enough for the message bound (messages.go); the path (which quotes the client's
	// aliases) goes in the extensions only.
	msg := fmt.Sprintf("refused before execution: about %s %s, over the limit (%s) of %s for %s",
		thousands(value), d, limit, thousands(maxV), role)
	knob, suggested := suggestFirst(top, value, maxV)
	switch {
	case knob != "":
		// The value to lower to comes first: the full advice (every knob) may not fit the
		// message bound, and is in extensions.advice.
		msg += fmt.Sprintf(". Most come from %s (%s): lower `first` on %s to about %d", top.Field, thousands(top.Amount), knob, suggested)
	case top.Field != "":
		msg += fmt.Sprintf(". Most come from %s (%s): %s", top.Field, thousands(top.Amount), top.Advice())
	}
	e := limitError(resolvers.CodeQueryTooComplex, limit, value, maxV, "%s", msg)
	if knob != "" {
		e.Extensions["suggestedFirst"] = map[string]any{"field": knob, "first": suggested}
	}
	e.Extensions["field"] = top.Field
	if top.Path != "" {
		e.Extensions["path"] = top.Path
	}
	if top.Field != "" {
		e.Extensions["advice"] = top.Advice()
	}
	e.Extensions["cost"] = estimated(est)
	return e
}

// suggestFirst is the paged list (innermost first) whose `first`, lowered in proportion, brings
// the estimate under the limit, and that `first`: the cost grows linearly with each knob. ""
// when no paged list can bring it under the limit alone (then the advice says what to lower).
func suggestFirst(top cost.Contributor, value, maxV int64) (field string, first int64) {
	if value <= 0 || maxV <= 0 {
		return "", 0
	}
	rest := value - top.Amount // what lowering this contributor cannot remove
	for _, k := range top.Knobs {
		if k.Argument == "" || k.Size <= 1 || rest >= maxV {
			continue
		}
		// top.Amount scales with k.Size: the new amount must fit in maxV - rest.
		first = k.Size * (maxV - rest) / top.Amount
		if first >= 1 && first < k.Size {
			return k.Field, first
		}
	}
	return "", 0
}

func estimated(est cost.Estimate) map[string]any {
	return map[string]any{"upstreamCalls": est.UpstreamCalls, "responseObjects": est.ResponseObjects}
}

// thousands prints n with comma separators (18,000).
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 || len(s) <= 3 {
		return s
	}
	var b []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return string(b)
}

// InterceptResponse adds extensions.cost: the estimate (when the operation got that far),
// the upstream calls the request made, the caller's limits and the outcome.
func (q *queryCost) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	m := meterFrom(ctx)
	if resp == nil || m == nil {
		return resp
	}
	report := map[string]any{"actual": map[string]any{"upstreamCalls": m.calls.Calls()}, "mode": q.lim.CostMode}
	m.mu.Lock()
	est, limits, isOver := m.estimate, m.limits, m.over
	m.mu.Unlock()
	if est != nil {
		report["estimated"] = estimated(*est)
		report["limits"] = map[string]any{"upstreamCalls": limits.MaxUpstreamCalls, "responseObjects": limits.MaxResponseObjects}
		report["result"] = "COST_OK"
		if isOver {
			report["result"] = "COST_ESTIMATED_TOO_EXPENSIVE"
		}
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["cost"] = report
	if q.lim.CostMode == config.CostMeasure && est != nil {
		q.logger.InfoContext(ctx, "query cost", "estimated_upstream_calls", est.UpstreamCalls,
			"estimated_response_objects", est.ResponseObjects, "actual_upstream_calls", m.calls.Calls(),
			"over_limits", isOver, "request_id", requestid.From(ctx))
	}
	return resp
}
