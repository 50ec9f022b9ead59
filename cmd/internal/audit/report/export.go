package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
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

// Exports returns the CSV export handlers by path. They expect the caller's principal in the
// request context (the HTTP layer's authentication) and take the report's arguments as query
// parameters: from and to (RFC 3339), groupBy (comma-separated dimensions, grouped export
// only), and the RestoreSessionFilter fields (servers, organizationIds, types, states, results:
// comma-separated or repeated; initiatedBy, clientHost, startTimeFrom, startTimeTo).
func (a *Archive) Exports(qb QueryBuilder, logger *slog.Logger) map[string]http.Handler {
	return map[string]http.Handler{
		ExportPath:         &exporter{a: a, qb: qb, logger: logger, grouped: true},
		ExportSessionsPath: &exporter{a: a, qb: qb, logger: logger},
	}
}

type exporter struct {
	a       *Archive
	qb      QueryBuilder
	logger  *slog.Logger
	grouped bool
}

func (x *exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	from, to, filter, groupBy, err := parseExportQuery(r.URL.Query(), x.grouped)
	if err != nil {
		writeError(w, err)
		return
	}
	q, err := x.qb.NewAuditQuery(ctx, from, to, filter, groupBy)
	if err != nil {
		writeError(w, err)
		return
	}
	name := "restore-audit"
	if !x.grouped {
		name = "restore-audit-sessions"
	}
	if x.grouped {
		// Grouping needs every session first; the rows are then written at once.
		res, err := x.a.RestoreAudit(ctx, q)
		if err != nil {
			x.fail(ctx, w, err)
			return
		}
		startCSV(w, name, from, to)
		cw := NewCSVWriter(w)
		_ = cw.Write(Header)
		for _, row := range res.Rows {
			_ = cw.Write(modelRecord(row))
		}
		if err := cw.Flush(); err != nil {
			x.logger.WarnContext(ctx, "restore audit export: write", "err", err)
		}
		return
	}
	// One row per session, streamed as the archive is read.
	started := false
	var cw *CSVWriter
	n := 0
	err = x.a.Sessions(ctx, q, func(s *match.Session) error {
		if !started {
			startCSV(w, name, from, to)
			cw = NewCSVWriter(w)
			started = true
			if err := cw.Write(DetailHeader); err != nil {
				return err
			}
		}
		if err := cw.Write(DetailRecord(s)); err != nil {
			return err
		}
		if n++; n%1000 == 0 {
			return cw.Flush()
		}
		return nil
	})
	if err != nil {
		if !started {
			x.fail(ctx, w, err)
			return
		}
		// Headers are gone: the response ends early, and the log says why.
		x.logger.WarnContext(ctx, "restore audit export stopped", "err", err, "rows", n, "request_id", resolvers.RequestID(ctx))
		return
	}
	if !started {
		startCSV(w, name, from, to)
		cw = NewCSVWriter(w)
		_ = cw.Write(DetailHeader)
	}
	_ = cw.Flush()
}

func (x *exporter) fail(ctx context.Context, w http.ResponseWriter, err error) {
	if code, _ := resolvers.Classify(err); code == resolvers.CodeInternal {
		x.logger.ErrorContext(ctx, "restore audit export", "err", err, "request_id", resolvers.RequestID(ctx))
	}
	writeError(w, err)
}

// modelRecord is a GraphQL row as CSV cells (Header's order), so the CSV is the GraphQL answer.
func modelRecord(m *model.RestoreAuditRow) []string {
	r := Row{InitiatedBy: m.InitiatedBy, ClientMachine: m.ClientMachine, ViaAddress: m.ViaAddress, Type: m.Type, Result: m.Result,
		Day: m.Day, Sessions: int64(m.Sessions), Items: m.Items, Bytes: m.Bytes, FailedSessions: int64(m.FailedSessions),
		First: m.First, Last: m.Last}
	if o := m.Organization; o != nil {
		r.Organization = &Org{ID: o.ID(), Name: o.Name()}
	}
	return r.Record()
}

func startCSV(w http.ResponseWriter, name string, from, to time.Time) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%s.csv"`, name,
		from.UTC().Format("20060102T150405Z"), to.UTC().Format("20060102T150405Z")))
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
		"message": msg, "extensions": map[string]any{"code": code}}}})
}

// badParam is an invalid query parameter.
func badParam(format string, args ...any) error {
	return &model.InputError{Msg: fmt.Sprintf(format, args...)}
}

var knownParams = map[string]bool{"from": true, "to": true, "groupBy": true, "servers": true, "organizationIds": true,
	"types": true, "states": true, "results": true, "initiatedBy": true, "clientHost": true, "startTimeFrom": true, "startTimeTo": true}

// parseExportQuery reads the report's arguments from query parameters.
func parseExportQuery(v url.Values, grouped bool) (from, to time.Time, f *model.RestoreSessionFilter, groupBy []model.RestoreAuditDimension, err error) {
	for k := range v {
		if !knownParams[k] || k == "groupBy" && !grouped {
			return from, to, nil, nil, badParam("unknown parameter %q", k)
		}
	}
	if from, err = timeParam(v, "from", true); err != nil {
		return
	}
	if to, err = timeParam(v, "to", true); err != nil {
		return
	}
	for _, d := range list(v, "groupBy") {
		dim := model.RestoreAuditDimension(d)
		if !dim.IsValid() {
			return from, to, nil, nil, badParam("groupBy: unknown dimension %q", d)
		}
		groupBy = append(groupBy, dim)
	}
	f = &model.RestoreSessionFilter{Servers: list(v, "servers"), OrganizationIds: list(v, "organizationIds")}
	for _, s := range list(v, "types") {
		if t := model.RestoreSessionType(s); t.IsValid() {
			f.Types = append(f.Types, t)
		} else {
			return from, to, nil, nil, badParam("types: unknown value %q", s)
		}
	}
	for _, s := range list(v, "states") {
		if t := model.RestoreSessionState(s); t.IsValid() {
			f.States = append(f.States, t)
		} else {
			return from, to, nil, nil, badParam("states: unknown value %q", s)
		}
	}
	for _, s := range list(v, "results") {
		if t := model.RestoreSessionResult(s); t.IsValid() {
			f.Results = append(f.Results, t)
		} else {
			return from, to, nil, nil, badParam("results: unknown value %q", s)
		}
	}
	if s := v.Get("initiatedBy"); s != "" {
		f.InitiatedBy = &s
	}
	if s := v.Get("clientHost"); s != "" {
		f.ClientHost = &s
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"startTimeFrom", &f.StartTimeFrom}, {"startTimeTo", &f.StartTimeTo}} {
		t, err2 := timeParam(v, p.name, false)
		if err2 != nil {
			return from, to, nil, nil, err2
		}
		if !t.IsZero() {
			*p.dst = &t
		}
	}
	return from, to, f, groupBy, nil
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
			return time.Time{}, badParam("%s: %s", name, ie.Msg)
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
