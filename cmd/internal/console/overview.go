package console

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// overviewQuery is the Overview in restoreAudit passes of one or two dimensions each, so the
// store answers every one from its per-day rollup (the window's whole days; the partial days at
// its edges from the sessions): by day, type and result (the chart and the totals); by account;
// by machine; by organisation (+ tenant for a provider admin: the per-tenant rollup is summed
// from it); and by machine before the window (which machines are new), with the coverage of the
// window's first second (complete: every server's backfill is done and reaches back to the
// window, so the machines before it are all archived). Then the failed and partial sessions,
// newest first.
const overviewQuery = `query ConsoleOverview($from: DateTime!, $to: DateTime!, $before: DateTime!, $fromEnd: DateTime!, $failed: RestoreSessionFilter!, $admin: Boolean!) {
  byDay: restoreAudit(from: $from, to: $to, groupBy: [DAY, TYPE, RESULT]) {
    rows { day type result sessions items failedSessions }
    coverage { server { name } from to complete }
  }
  people: restoreAudit(from: $from, to: $to, groupBy: [INITIATED_BY]) { rows { initiatedBy sessions items failedSessions } }
  machines: restoreAudit(from: $from, to: $to, groupBy: [CLIENT_MACHINE]) { rows { clientMachine sessions items failedSessions first } }
  orgs: restoreAudit(from: $from, to: $to, groupBy: [ORGANIZATION]) @skip(if: $admin) {
    rows { organization { id name server { name } } sessions items failedSessions }
  }
  orgsAdmin: restoreAudit(from: $from, to: $to, groupBy: [ORGANIZATION, TENANT]) @include(if: $admin) {
    rows { tenant organization { id name server { name } } sessions items failedSessions }
  }
  before: restoreAudit(from: $before, to: $from, groupBy: [CLIENT_MACHINE]) { rows { clientMachine } }
  archive: restoreAudit(from: $from, to: $fromEnd, groupBy: []) { coverage { server { name } from complete } }
  failed: restoreSessions(first: 20, filter: $failed) {
    edges { node { id startTime type result initiatedBy clientHost { machineName } organization { name } } }
  }
}`

// auditRow is a restoreAudit row as the console asks for it.
type auditRow struct {
	Day            *string `json:"day"`
	Type           *string `json:"type"`
	Result         *string `json:"result"`
	Tenant         *string `json:"tenant"`
	InitiatedBy    *string `json:"initiatedBy"`
	ClientMachine  *string `json:"clientMachine"`
	Organization   *org    `json:"organization"`
	Sessions       int     `json:"sessions"`
	Items          int64   `json:"items"`
	FailedSessions int     `json:"failedSessions"`
	First          string  `json:"first"`
}

type org struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Server struct {
		Name string `json:"name"`
	} `json:"server"`
}

type coverage struct {
	Server struct {
		Name string `json:"name"`
	} `json:"server"`
	From     *string `json:"from"`
	To       *string `json:"to"`
	Complete bool    `json:"complete"`
}

type audit struct {
	Rows     []auditRow `json:"rows"`
	Coverage []coverage `json:"coverage"`
}

type sessionRow struct {
	ID          string  `json:"id"`
	UpstreamID  string  `json:"upstreamId"`
	StartTime   string  `json:"startTime"`
	EndTime     *string `json:"endTime"`
	Type        string  `json:"type"`
	State       string  `json:"state"`
	Result      string  `json:"result"`
	InitiatedBy *string `json:"initiatedBy"`
	ClientHost  *struct {
		Raw         string  `json:"raw"`
		MachineName *string `json:"machineName"`
		ViaAddress  *string `json:"viaAddress"`
	} `json:"clientHost"`
	Organization org `json:"organization"`
}

// Machine is the session's client machine name ("" when VBO recorded none).
func (s sessionRow) Machine() string {
	if s.ClientHost == nil || s.ClientHost.MachineName == nil {
		return ""
	}
	return *s.ClientHost.MachineName
}

type sessionEdges struct {
	Edges []struct {
		Node sessionRow `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

// overviewData is the Overview's answer.
type overviewData struct {
	ByDay, People, Machines, Before, Archive audit
	Orgs, OrgsAdmin                          *audit
	Failed                                   sessionEdges
}

// sumBy adds rows up by key (sessions, items, failed; the earliest first).
func sumBy(rows []auditRow, key func(auditRow) string, keep func(*auditRow, auditRow)) []auditRow {
	idx := map[string]int{}
	var out []auditRow
	for _, r := range rows {
		k := key(r)
		i, ok := idx[k]
		if !ok {
			idx[k], i = len(out), len(out)
			var a auditRow
			keep(&a, r)
			a.First = r.First
			out = append(out, a)
		}
		out[i].Sessions += r.Sessions
		out[i].Items += r.Items
		out[i].FailedSessions += r.FailedSessions
		if r.First != "" && (out[i].First == "" || r.First < out[i].First) { // RFC 3339 in UTC sorts as text
			out[i].First = r.First
		}
	}
	return out
}

// topN are the n groups with most sessions (ties by name).
func topN(rows []auditRow, n int, name func(auditRow) string) []auditRow {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b auditRow) int {
		return cmp.Or(cmp.Compare(b.Sessions, a.Sessions), cmp.Compare(name(a), name(b)))
	})
	return rows[:min(n, len(rows))]
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// chart is the stacked restores-per-day chart's numbers (the JSON data block console.js
// draws, and the table beside it).
type chart struct {
	Days   []string      `json:"days"`
	Series []chartSeries `json:"series"`
}

type chartSeries struct {
	Type   string `json:"type"`
	Counts []int  `json:"counts"`
}

func dayChart(rows []auditRow) chart {
	days, types := []string{}, []string{}
	for _, r := range rows {
		if d := str(r.Day); !slices.Contains(days, d) {
			days = append(days, d)
		}
		if t := str(r.Type); !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	slices.Sort(days)
	slices.Sort(types)
	c := chart{Days: days}
	for _, t := range types {
		counts := make([]int, len(days))
		for _, r := range rows {
			if str(r.Type) == t {
				counts[slices.Index(days, str(r.Day))] += r.Sessions
			}
		}
		c.Series = append(c.Series, chartSeries{Type: t, Counts: counts})
	}
	return c
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	win, err := s.windowOf(r)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, r, "error", pageData{Title: "Overview", Nav: "overview", Data: err.Error()})
		return
	}
	from, to := win.vars()
	var d overviewData
	notes, err := s.query(r.Context(), sess.view, overviewQuery, map[string]any{
		"from": from, "to": to, "before": win.To.AddDate(-5, 0, 1).Format(time.RFC3339),
		"fromEnd": win.From.Add(time.Second).Format(time.RFC3339), "admin": sess.view.IsAdmin(),
		"failed": map[string]any{"startTimeFrom": from, "startTimeTo": to, "results": []string{"FAILED", "WARNING"}},
	}, &d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	orgRows := d.Orgs
	if orgRows == nil {
		orgRows = d.OrgsAdmin
	}
	if orgRows == nil {
		orgRows = &audit{}
	}
	people, machines := d.People.Rows, d.Machines.Rows
	orgs := sumBy(orgRows.Rows, func(a auditRow) string {
		if a.Organization == nil {
			return ""
		}
		return a.Organization.ID
	}, func(a *auditRow, r auditRow) { a.Organization = r.Organization })
	firstTime, archiveBegins, known := firstTimeMachines(machines, d.Before.Rows, d.Archive.Coverage, win.From)
	total, failed := 0, 0
	for _, r := range d.ByDay.Rows {
		total += r.Sessions
		if str(r.Result) == "FAILED" || str(r.Result) == "WARNING" {
			failed += r.Sessions
		}
	}
	data := map[string]any{
		"Window": win, "Windows": windows, "WindowQuery": win.query(),
		"Chart": dayChart(d.ByDay.Rows), "Coverage": d.ByDay.Coverage,
		"People":   topN(people, 10, func(a auditRow) string { return str(a.InitiatedBy) }),
		"Machines": topN(machines, 10, func(a auditRow) string { return str(a.ClientMachine) }),
		"Orgs": topN(orgs, 10, func(a auditRow) string {
			if a.Organization == nil {
				return ""
			}
			return a.Organization.Name
		}),
		"Total": total, "FailedCount": failed,
		"FirstTime":      topN(firstTime, 20, func(a auditRow) string { return str(a.ClientMachine) }),
		"FirstTimeKnown": known, "ArchiveBegins": archiveBegins,
		"Failed": d.Failed.Edges, "From": win.From.Format(time.RFC3339), "To": win.To.Format(time.RFC3339),
	}
	if d.OrgsAdmin != nil {
		tenants := sumBy(d.OrgsAdmin.Rows, func(a auditRow) string { return str(a.Tenant) }, func(a *auditRow, r auditRow) { a.Tenant = r.Tenant })
		data["Rollup"] = topN(tenants, 1000, func(a auditRow) string { return str(a.Tenant) })
	}
	s.render(w, r, "overview", pageData{Title: "Overview", Nav: "overview", Notes: noteList(notes), Data: data})
}

func noteList(e gqlErrors) []string { return notes(e) }

// firstTimeMachines are the machines of the window (machines) not seen before it (before:
// the machines of the sessions archived before winFrom). That says "new" only when the
// archive reaches back before the window on every server and holds what lies there (coverage:
// of the window's start, each server's from, and complete once its backfill is done): on an
// archive whose backfill began inside the window (a fresh install backfilled for less than the
// window) every machine would look new, and so would the machines a server still backfilling
// saw before the window. known false: new-ness is not known, archiveBegins is when the archive
// begins (the latest server's from; "" when a server has none yet, the watcher not having run
// there, or is still backfilling) and no machine is listed.
func firstTimeMachines(machines, before []auditRow, cov []coverage, winFrom time.Time) (rows []auditRow, archiveBegins string, known bool) {
	var begins time.Time
	for _, c := range cov {
		if c.From == nil {
			return nil, "", false
		}
		t, err := time.Parse(time.RFC3339Nano, *c.From)
		if err != nil {
			return nil, "", false
		}
		if t.After(begins) {
			begins = t
		}
	}
	if len(cov) == 0 {
		return nil, "", false
	}
	if !begins.Before(winFrom) {
		return nil, begins.UTC().Format(time.RFC3339), false
	}
	for _, c := range cov {
		if !c.Complete {
			// Its backfill has not reached the window yet (or it was not polled since the
			// window began): "the archive has not been filled yet".
			return nil, "", false
		}
	}
	seen := map[string]bool{}
	for _, m := range before {
		seen[str(m.ClientMachine)] = true
	}
	for _, m := range machines {
		if name := str(m.ClientMachine); name != "" && !seen[name] {
			rows = append(rows, m)
		}
	}
	return rows, begins.UTC().Format(time.RFC3339), true
}
