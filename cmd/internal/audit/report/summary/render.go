package summary

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strings"
	"text/tabwriter"
	"time"
)

//go:embed summary.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("summary").Funcs(template.FuncMap{
	"bytes":   humanBytes,
	"time":    fmtTime,
	"day":     fmtDay,
	"pct":     fmtPct,
	"signed":  signed,
	"covered": coveredText,
	"trend":   trendClass,
	"label":   labelOf,
	"counts":  func(name string, rows []Count) countsView { return countsView{name, rows} },
	"lines": func(name string, total int, rows []SessionLine) linesView {
		return linesView{name, total, rows, total - len(rows)}
	},
	"maxDistinct": func() int { return MaxDistinct },
	"others":      func() string { return Others },
}).Parse(htmlSource))

type countsView struct {
	Name string
	Rows []Count
}

type linesView struct {
	Name  string
	Total int
	Rows  []SessionLine
	More  int
}

// HTML renders the summary as one self-contained HTML document: inline CSS, no scripts, no
// external resources (mail clients and archives show it as it is).
func (s *Summary) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, s); err != nil {
		return nil, fmt.Errorf("summary: rendering HTML: %w", err)
	}
	return b.Bytes(), nil
}

// IncompleteNotice is the banner of a summary whose period the archive does not fully cover.
func (s *Summary) IncompleteNotice() string {
	if s.Complete {
		return ""
	}
	var gaps []string
	for _, c := range s.Coverage {
		if !c.Complete {
			gaps = append(gaps, fmt.Sprintf("%s (%s)", c.Server, coveredText(c)))
		}
	}
	msg := "INCOMPLETE: the archive does not cover " + labelOf(s.Period) + " on every server"
	if len(gaps) > 0 {
		msg += ": " + strings.Join(gaps, "; ")
	}
	return msg + ". Counts may be too low."
}

// Text renders the summary as plain text, the alternative part of an email.
func (s *Summary) Text() string {
	var b strings.Builder
	title := s.Title
	if title == "" {
		title = "Restore audit report"
	}
	fmt.Fprintf(&b, "%s\n%s\n\n", title, strings.Repeat("=", len([]rune(title))))
	if n := s.IncompleteNotice(); n != "" {
		fmt.Fprintf(&b, "*** %s ***\n\n", n)
	}
	fmt.Fprintf(&b, "Period: %s (%s to %s)\n", labelOf(s.Period), fmtTime(s.Period.From), fmtTime(s.Period.To))
	if s.Scope != "" {
		fmt.Fprintf(&b, "Scope:  %s\n", s.Scope)
	}
	fmt.Fprintf(&b, "\nTotals: %d sessions, %d items, %s\n", s.Totals.Sessions, s.Totals.Items, humanBytes(s.Totals.Bytes))

	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	counts := func(title string, cs []Count) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n", title)
		for _, c := range cs {
			fmt.Fprintf(w, "  %s\t%d sessions\t%d items\t%s\n", c.Key, c.Sessions, c.Items, humanBytes(c.Bytes))
		}
	}
	counts("By type", s.ByType)
	counts("By result", s.ByResult)
	counts("Top people", s.TopPeople)
	counts("Top machines", s.TopMachines)
	counts("Top organisations", s.TopOrganizations)
	lines := func(title string, total int, ls []SessionLine) {
		fmt.Fprintf(w, "\n%s: %d\n", title, total)
		for _, l := range ls {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", fmtTime(l.Started), l.Organization, l.InitiatedBy, l.Machine, l.Result, l.Reason)
		}
		if total > len(ls) {
			fmt.Fprintf(w, "  ... and %d more\n", total-len(ls))
		}
	}
	lines("Failed sessions", s.FailedTotal, s.Failed)
	lines("First-time machines", s.FirstTimeMachinesTotal, s.FirstTimeMachines)
	lines("Outside business hours ("+s.BusinessHours+")", s.OutsideHoursTotal, s.OutsideHours)
	if len(s.Changes) > 0 {
		fmt.Fprintf(w, "\nChange against earlier periods\n")
		for _, c := range s.Changes {
			fmt.Fprintf(w, "  %s\tsessions %d -> %d (%s, %s)\titems %s (%s)\tbytes %s (%s)\n",
				labelOf(c.Period), c.Previous.Sessions, s.Totals.Sessions, signed(c.Sessions), fmtPct(c.SessionsPct),
				signed(c.Items), fmtPct(c.ItemsPct), signed(c.Bytes), fmtPct(c.BytesPct))
		}
	}
	if len(s.Coverage) > 0 {
		fmt.Fprintf(w, "\nCoverage\n")
		for _, c := range s.Coverage {
			fmt.Fprintf(w, "  %s\t%s\n", c.Server, coveredText(c))
		}
	}
	_ = w.Flush()
	if s.Truncated {
		fmt.Fprintf(&b, "\nNote: more than %d distinct people, machines or organisations; the rest are counted as %s.\n", MaxDistinct, Others)
	}
	return b.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func fmtDay(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmtTime(*t)
}

func coveredText(c Coverage) string {
	state := "complete"
	if !c.Complete {
		state = "INCOMPLETE"
	}
	return fmt.Sprintf("%s, archived from %s, last poll %s", state, fmtDay(c.From), fmtDay(c.To))
}

func fmtPct(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f%%", *p)
}

func signed(n int64) string { return fmt.Sprintf("%+d", n) }

func trendClass(n int64) string {
	switch {
	case n > 0:
		return "up"
	case n < 0:
		return "down"
	}
	return "same"
}

// humanBytes is n in binary units (1.5 GiB).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for ; (f >= unit || f <= -unit) && i < 6; i++ {
		f /= unit
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[i-1])
}
