package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// Export paths.
const (
	ExportPath         = "/export/restore-audit.csv"
	ExportSessionsPath = "/export/restore-audit-sessions.csv"
)

// QueryBuilder checks and scopes a report request; *resolvers.Resolver implements it, so the
// exports answer exactly what restoreAudit answers.
type QueryBuilder interface {
	NewAuditQuery(ctx context.Context, from, to time.Time, filter *model.RestoreSessionFilter, groupBy []model.RestoreAuditDimension) (resolvers.AuditQuery, error)
}

// ExportOptions configure the CSV exports.
type ExportOptions struct {
	Logger *slog.Logger
	// PerPrincipal is how many exports one principal runs at once (default 2); one more is
	// answered 429 RATE_LIMITED with Retry-After at once.
	PerPrincipal int
	// WriteTimeout bounds every write of an export's response (default 30 s): a client that
	// reads nothing for that long loses the download, and its slot.
	WriteTimeout time.Duration
	// RetryAfter is what a refused export is told to wait (default 5 s).
	RetryAfter time.Duration
}

// Export defaults.
const (
	DefaultExportsPerPrincipal = 2
	DefaultExportWriteTimeout  = 30 * time.Second
	DefaultExportRetryAfter    = 5 * time.Second
)

// CodeArchiveIncomplete is the code of an export refused because the archive does not cover
// its window yet (HTTP 409); partial=true takes what the archive holds.
const CodeArchiveIncomplete = "ARCHIVE_INCOMPLETE"

// Exports returns the CSV export handlers by path. They expect the caller's principal in the
// request context (the HTTP layer's authentication) and take the report's arguments as query
// parameters: from and to (RFC 3339), groupBy (comma-separated dimensions, grouped export
// only), the RestoreSessionFilter fields (servers, organizationIds, types, states, results:
// comma-separated or repeated; initiatedBy, clientHost, startTimeFrom, startTimeTo), and
// partial (true: answer what the archive holds when it does not cover the window yet). A
// single-valued parameter given twice is refused.
//
// An export whose window the archive does not fully cover (restoreAudit's coverage, judged the
// same way) answers 409 ARCHIVE_INCOMPLETE naming the servers and what they cover, unless
// partial=true: then the file's name ends in -partial. Every CSV answer has a Coverage header,
// one entry per server in scope (RFC 8941 list): "syd1";complete=?1;from="...";to="...".
//
// The archive is read in pages with the store connection released before a row is written,
// so a client that reads slowly or not at all holds no connection; each write has a deadline,
// and a principal runs at most PerPrincipal exports at once.
func (a *Archive) Exports(qb QueryBuilder, o ExportOptions) map[string]http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PerPrincipal <= 0 {
		o.PerPrincipal = DefaultExportsPerPrincipal
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultExportWriteTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultExportRetryAfter
	}
	slots := &exportSlots{max: o.PerPrincipal, running: map[string]int{}}
	return map[string]http.Handler{
		ExportPath:         &exporter{a: a, qb: qb, o: o, slots: slots, grouped: true},
		ExportSessionsPath: &exporter{a: a, qb: qb, o: o, slots: slots},
	}
}

type exporter struct {
	a       *Archive
	qb      QueryBuilder
	o       ExportOptions
	slots   *exportSlots
	grouped bool
}

// exportSlots counts each principal's running exports (both paths together). An entry lives
// only while its principal has one running.
type exportSlots struct {
	max     int
	mu      sync.Mutex
	running map[string]int
}

func (s *exportSlots) acquire(key string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[key] >= s.max {
		return nil, false
	}
	s.running[key]++
	return sync.OnceFunc(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.running[key]--; s.running[key] <= 0 {
			delete(s.running, key)
		}
	}), true
}

func principalKey(p *auth.Principal) string {
	if p == nil {
		return ""
	}
	return p.Tenant + "|" + p.Subject
}

func (x *exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := parseExportQuery(r.URL.Query(), x.grouped)
	if err != nil {
		writeError(w, err)
		return
	}
	q, err := x.qb.NewAuditQuery(ctx, p.from, p.to, p.filter, p.groupBy)
	if err != nil {
		writeError(w, err)
		return
	}
	release, ok := x.slots.acquire(principalKey(auth.FromContext(ctx)))
	if !ok {
		x.tooMany(w)
		return
	}
	defer release()

	cov, err := x.a.Coverage(ctx, q)
	if err != nil {
		x.fail(ctx, w, err)
		return
	}
	incomplete := incompleteServers(cov)
	if len(incomplete) > 0 && !p.partial {
		writeIncomplete(w, p.from, p.to, incomplete, cov)
		return
	}
	kind := "restore-audit"
	if !x.grouped {
		kind = "restore-audit-sessions"
	}
	name := CSVFileName(kind, p.from, p.to, len(incomplete) > 0)
	out := newDeadlineWriter(w, x.o.WriteTimeout)
	defer out.clear()
	if x.grouped {
		// Grouping needs every session first; the rows are then written at once.
		res, err := x.a.report(ctx, q, cov)
		if err != nil {
			x.fail(ctx, w, err)
			return
		}
		startCSV(w, name, cov)
		if err := WriteCSV(out, q.GroupBy, res.Rows); err != nil {
			x.o.Logger.WarnContext(ctx, "restore audit export: write", "err", err, "request_id", requestid.From(ctx))
		}
		return
	}
	// One row per session, written page by page as the archive is read (Sessions holds no
	// store connection while a row is written).
	started := false
	var cw *CSVWriter
	n := 0
	err = x.a.Sessions(ctx, q, func(s *match.Session) error {
		if !started {
			startCSV(w, name, cov)
			cw = NewCSVWriter(out)
			started = true
			if err := cw.Write(DetailHeader); err != nil {
				return err
			}
		}
		if err := cw.Write(DetailRecord(s)); err != nil {
			return err
		}
		if n++; n%500 == 0 {
			if err := cw.Flush(); err != nil {
				return err
			}
			return out.flush()
		}
		return nil
	})
	if err != nil {
		if !started {
			x.fail(ctx, w, err)
			return
		}
		// Headers are gone: the response ends early, and the log says why.
		x.o.Logger.WarnContext(ctx, "restore audit export stopped", "err", err, "rows", n, "request_id", requestid.From(ctx))
		return
	}
	if !started {
		startCSV(w, name, cov)
		cw = NewCSVWriter(out)
		_ = cw.Write(DetailHeader)
	}
	if err := cw.Flush(); err != nil {
		x.o.Logger.WarnContext(ctx, "restore audit export: write", "err", err, "request_id", requestid.From(ctx))
	}
}

// tooMany refuses an export over the principal's limit: 429 with Retry-After, and the
// connection closed after the answer.
func (x *exporter) tooMany(w http.ResponseWriter) {
	secs := max(int64(math.Ceil(x.o.RetryAfter.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	w.Header().Set("Connection", "close")
	writeJSONError(w, http.StatusTooManyRequests, resolvers.CodeRateLimited,
		fmt.Sprintf("too many exports running for this caller (limit %d); retry after %d s", x.o.PerPrincipal, secs),
		map[string]any{"limit": "exports.perPrincipal", "max": x.o.PerPrincipal, "retryAfterSeconds": secs})
}

// deadlineWriter gives each write of the response a deadline (http.ResponseController), so a
// client that stops reading ends the export instead of holding it.
type deadlineWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	set     bool
}

func newDeadlineWriter(w http.ResponseWriter, timeout time.Duration) *deadlineWriter {
	return &deadlineWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(d.timeout)); err == nil {
		d.set = true
	}
	return d.w.Write(p)
}

func (d *deadlineWriter) flush() error {
	if err := d.rc.SetWriteDeadline(time.Now().Add(d.timeout)); err == nil {
		d.set = true
	}
	if err := d.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// clear lifts the deadline once the export is written (the server's own write timeout takes
// over for the connection's next request).
func (d *deadlineWriter) clear() {
	if d.set {
		_ = d.rc.SetWriteDeadline(time.Time{})
	}
}

// incompleteServers are the coverage entries that do not cover the window.
func incompleteServers(cov []*model.RestoreAuditCoverage) []*model.RestoreAuditCoverage {
	var out []*model.RestoreAuditCoverage
	for _, c := range cov {
		if !c.Complete {
			out = append(out, c)
		}
	}
	return out
}

func covServer(c *model.RestoreAuditCoverage) string {
	if c.Server == nil {
		return ""
	}
	return c.Server.Name
}

// coverageText says in words what one server's archive covers.
func coverageText(c *model.RestoreAuditCoverage) string {
	switch {
	case c.From == nil && c.To == nil:
		return covServer(c) + " has not been watched yet"
	case c.To == nil:
		return fmt.Sprintf("%s covers from %s, not polled yet", covServer(c), c.From.UTC().Format(time.RFC3339))
	case c.From == nil:
		return fmt.Sprintf("%s covers up to %s", covServer(c), c.To.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s covers %s to %s", covServer(c), c.From.UTC().Format(time.RFC3339), c.To.UTC().Format(time.RFC3339))
}

// writeIncomplete answers 409 ARCHIVE_INCOMPLETE, naming each server that does not cover the
// window and what it covers.
func writeIncomplete(w http.ResponseWriter, from, to time.Time, incomplete, cov []*model.RestoreAuditCoverage) {
	parts := make([]string, len(incomplete))
	for i, c := range incomplete {
		parts[i] = coverageText(c)
	}
	msg := fmt.Sprintf("the archive does not cover %s to %s yet on every server (the watch's backfill may still be running): %s; "+
		"narrow from/to to what is covered, retry later, or add partial=true to export what the archive holds",
		from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), strings.Join(parts, "; "))
	list := make([]map[string]any, len(cov))
	for i, c := range cov {
		list[i] = map[string]any{"server": covServer(c), "from": c.From, "to": c.To, "complete": c.Complete}
	}
	w.Header().Set("Coverage", coverageHeader(cov))
	writeJSONError(w, http.StatusConflict, CodeArchiveIncomplete, msg, map[string]any{"coverage": list})
}

// coverageHeader is the Coverage header: an RFC 8941 list, one string per server with its
// coverage as parameters: "syd1";complete=?1;from="2026-03-01T00:00:00Z";to="...". from and
// to are absent when the archive has no such bound yet.
func coverageHeader(cov []*model.RestoreAuditCoverage) string {
	items := make([]string, len(cov))
	for i, c := range cov {
		var b strings.Builder
		b.WriteString(sfString(covServer(c)))
		if c.Complete {
			b.WriteString(";complete=?1")
		} else {
			b.WriteString(";complete=?0")
		}
		if c.From != nil {
			b.WriteString(";from=" + sfString(c.From.UTC().Format(time.RFC3339Nano)))
		}
		if c.To != nil {
			b.WriteString(";to=" + sfString(c.To.UTC().Format(time.RFC3339Nano)))
		}
		items[i] = b.String()
	}
	return strings.Join(items, ", ")
}

// sfString is s as an RFC 8941 string: quoted, '"' and '\' escaped, anything but printable
// ASCII replaced with '?'.
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (x *exporter) fail(ctx context.Context, w http.ResponseWriter, err error) {
	if code, _ := resolvers.Classify(err); code == resolvers.CodeInternal {
		x.o.Logger.ErrorContext(ctx, "restore audit export", "err", err, "request_id", requestid.From(ctx))
	}
	writeError(w, err)
}

// WriteCSV writes the rows of a report grouped by groupBy as the grouped export's CSV body
// (CSVHeader, then one record per row). The export and the scheduled reports
// (audit/schedules) both write with it, so a scheduled report's CSV is byte-identical to the
// export of the same window and scope.
func WriteCSV(w io.Writer, groupBy []model.RestoreAuditDimension, rows []*model.RestoreAuditRow) error {
	cw := NewCSVWriter(w)
	header := CSVHeader(groupBy)
	if err := cw.Write(header); err != nil {
		return err
	}
	tenant := len(header) > len(Header)
	for _, row := range rows {
		if err := cw.Write(modelRecord(row, tenant)); err != nil {
			return err
		}
	}
	return cw.Flush()
}

// modelRecord is a GraphQL row as CSV cells (CSVHeader's order, with the tenant column or
// not), so the CSV is the GraphQL answer.
func modelRecord(m *model.RestoreAuditRow, tenant bool) []string {
	r := Row{Tenant: m.Tenant, Person: m.Person, InitiatedBy: m.InitiatedBy, ClientMachine: m.ClientMachine, ViaAddress: m.ViaAddress, Type: m.Type, Result: m.Result,
		Day: m.Day, Sessions: int64(m.Sessions), Items: m.Items, Bytes: m.Bytes, FailedSessions: int64(m.FailedSessions),
		First: m.First, Last: m.Last}
	if o := m.Organization; o != nil {
		r.Organization = &Org{ID: o.ID(), Name: o.Name()}
	}
	return r.Record(tenant)
}

// CSVFileName is the name of a CSV of the period [from, to): kind, then both ends in UTC,
// then -partial when some server's archive does not cover the period.
func CSVFileName(kind string, from, to time.Time, partial bool) string {
	name := kind + "-" + from.UTC().Format("20060102T150405Z") + "-" + to.UTC().Format("20060102T150405Z")
	if partial {
		name += "-partial"
	}
	return name + ".csv"
}

func startCSV(w http.ResponseWriter, name string, cov []*model.RestoreAuditCoverage) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	w.Header().Set("Coverage", coverageHeader(cov))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
}

// writeError answers like the GraphQL endpoint does: {"errors":[{message, extensions{code}}]}.
func writeError(w http.ResponseWriter, err error) {
	code, msg := resolvers.Classify(err)
	status := http.StatusInternalServerError
	switch code {
	case resolvers.CodeBadUserInput:
		status = http.StatusBadRequest
	case resolvers.CodeUnauthenticated:
		status = http.StatusUnauthorized
	case resolvers.CodeForbidden:
		status = http.StatusForbidden
	case resolvers.CodeNotFound:
		status = http.StatusNotFound
	case resolvers.CodeNotConfigured:
		status = http.StatusNotImplemented
	}
	writeJSONError(w, status, code, msg, nil)
}

// writeJSONError writes {"errors":[{message, extensions{code, ...extra}}]} with status.
func writeJSONError(w http.ResponseWriter, status int, code, msg string, extra map[string]any) {
	ext := map[string]any{"code": code}
	for k, v := range extra {
		ext[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": ext}}})
}

// badParam is an invalid query parameter.
func badParam(format string, args ...any) error {
	return &model.InputError{Msg: fmt.Sprintf(format, args...)}
}

// unknownValue refuses an enum value of a parameter, listing the valid ones (and the value
// in upper case when that is one of them: groupBy=day means DAY).
func unknownValue[E ~string](param, got string, valid []E) error {
	names := make([]string, len(valid))
	for i, v := range valid {
		names[i] = string(v)
		if strings.EqualFold(names[i], got) {
			return badParam("%s: unknown value %q; values are upper case: write %s", param, got, names[i])
		}
	}
	return badParam("%s: unknown value %q; valid values: %s", param, got, strings.Join(names, ", "))
}

// exportParams are an export's query parameters, read.
type exportParams struct {
	from, to time.Time
	filter   *model.RestoreSessionFilter
	groupBy  []model.RestoreAuditDimension
	partial  bool
}

// The query parameters: list parameters may be repeated (and comma-separated), the others given
// once (a second value is refused rather than one of them silently chosen).
var (
	listParams   = map[string]bool{"groupBy": true, "servers": true, "organizationIds": true, "types": true, "states": true, "results": true}
	singleParams = map[string]bool{"from": true, "to": true, "initiatedBy": true, "clientHost": true, "startTimeFrom": true,
		"startTimeTo": true, "partial": true}
)

// parseExportQuery reads the report's arguments from query parameters.
func parseExportQuery(v url.Values, grouped bool) (p exportParams, err error) {
	if err := checkParamNames(v, grouped); err != nil {
		return p, err
	}
	if p.from, err = timeParam(v, "from", true); err != nil {
		return p, err
	}
	if p.to, err = timeParam(v, "to", true); err != nil {
		return p, err
	}
	switch s := v.Get("partial"); s {
	case "", "false":
	case "true":
		p.partial = true
	default:
		return p, badParam("partial: want true or false, not %q", s)
	}
	if p.groupBy, err = enumList(v, "groupBy", model.AllRestoreAuditDimension); err != nil {
		return p, err
	}
	p.filter, err = exportFilter(v)
	return p, err
}

// checkParamNames refuses unknown parameters (groupBy only on the grouped export) and single
// parameters given twice, naming them in a stable order.
func checkParamNames(v url.Values, grouped bool) error {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	slices.Sort(names) // the same parameter named on every try
	for _, k := range names {
		switch {
		case !listParams[k] && !singleParams[k] || k == "groupBy" && !grouped:
			return badParam("unknown parameter %q", k)
		case singleParams[k] && len(v[k]) > 1:
			return badParam("parameter %q given %d times: give it once", k, len(v[k]))
		}
	}
	return nil
}

// enumList reads a comma-separated list parameter of enum values, refusing an unknown one with
// the valid values.
func enumList[E interface {
	~string
	IsValid() bool
}](v url.Values, param string, valid []E) ([]E, error) {
	var out []E
	for _, s := range list(v, param) {
		e := E(s)
		if !e.IsValid() {
			return nil, unknownValue(param, s, valid)
		}
		out = append(out, e)
	}
	return out, nil
}

// exportFilter is the restore-session filter the export's parameters describe.
func exportFilter(v url.Values) (*model.RestoreSessionFilter, error) {
	f := &model.RestoreSessionFilter{Servers: list(v, "servers"), OrganizationIds: list(v, "organizationIds")}
	var err error
	if f.Types, err = enumList(v, "types", model.AllRestoreSessionType); err != nil {
		return nil, err
	}
	if f.States, err = enumList(v, "states", model.AllRestoreSessionState); err != nil {
		return nil, err
	}
	if f.Results, err = enumList(v, "results", model.AllRestoreSessionResult); err != nil {
		return nil, err
	}
	if s := v.Get("initiatedBy"); s != "" {
		f.InitiatedBy = &s
	}
	if s := v.Get("clientHost"); s != "" {
		f.ClientHost = &s
	}
	for _, tp := range []struct {
		name string
		dst  **time.Time
	}{{"startTimeFrom", &f.StartTimeFrom}, {"startTimeTo", &f.StartTimeTo}} {
		t, err := timeParam(v, tp.name, false)
		if err != nil {
			return nil, err
		}
		if !t.IsZero() {
			*tp.dst = &t
		}
	}
	return f, nil
}

func timeParam(v url.Values, name string, required bool) (time.Time, error) {
	s := v.Get(name)
	if s == "" {
		if required {
			return time.Time{}, badParam("%s is required (RFC 3339, e.g. 2026-03-01T00:00:00Z)", name)
		}
		return time.Time{}, nil
	}
	t, err := model.UnmarshalDateTime(s)
	if err != nil {
		var ie *model.InputError
		if errors.As(err, &ie) {
			return time.Time{}, badParam("%s: %s", name, ie.Error())
		}
		return time.Time{}, badParam("%s: want RFC 3339", name)
	}
	return t, nil
}

// list reads a parameter given comma-separated, repeated, or both; nil when absent.
func list(v url.Values, name string) []string {
	var out []string
	for _, raw := range v[name] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
