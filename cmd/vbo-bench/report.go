package main

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

func fmtCalls(v float64) string {
	switch {
	case v < 0:
		return "?"
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtMs(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func fmtBytes(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func ratio(r row) string {
	if r.MinimumCalls <= 0 || r.UpstreamCalls < 0 {
		if r.MinimumCalls == 0 && r.UpstreamCalls == 0 {
			return "1.00"
		}
		return "-"
	}
	return fmt.Sprintf("%.2f", r.UpstreamCalls/r.MinimumCalls)
}

func fmtCPU(r row) string {
	v, ok := r.Extra["cpuMsPerRequest"]
	if !ok {
		return "-"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// printTable writes the results as an aligned text table (also valid-looking Markdown). CPU is
// the system's own CPU time per request (per iteration for the multi-request scenarios).
func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| scenario\t| system\t| mode\t| CPU / req\t| upstream calls\t| minimum calls\t| ratio\t| p50\t| p95\t| p99\t| req/s\t| C\t| peak RSS\t| n\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|")
	for _, r := range rows {
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t| %.1f\t| %d\t| %s\t| %d\t|\n",
			r.Scenario, r.System, r.Mode, fmtCPU(r), fmtCalls(r.UpstreamCalls), fmtCalls(r.MinimumCalls), ratio(r),
			fmtMs(r.P50Ms), fmtMs(r.P95Ms), fmtMs(r.P99Ms), r.RPS, r.Concurrency, fmtBytes(r.PeakRssBytes), r.Iterations)
	}
	tw.Flush()
}

// addRatios records, on the gateway's rows, how they compare with Hive Gateway's at the same
// concurrency (overhead: cpuFractionOfMesh and p99FractionOfMesh, target <= 0.2; rpsTimesMesh,
// target >= 5) and the dashboard's p50 over its concurrency-bound floor (target <= 1.15).
func addRatios(rows []row) {
	for i := range rows {
		g := &rows[i]
		if g.System != "gateway" && g.System != "gateway-archive" {
			continue
		}
		if g.Scenario == "dashboard" && g.Extra["concurrencyBoundMs"] > 0 {
			g.Extra["p50OverFloor"] = round3(g.P50Ms / g.Extra["concurrencyBoundMs"])
		}
		m := find(rows, g.Scenario, "mesh", g.Concurrency)
		if m == nil {
			continue
		}
		if gc, mc := g.Extra["cpuMsPerRequest"], m.Extra["cpuMsPerRequest"]; gc > 0 && mc > 0 {
			g.Extra["cpuFractionOfMesh"] = round3(gc / mc)
		}
		if m.RPS > 0 {
			g.Extra = withExtra(g.Extra, "rpsTimesMesh", round3(g.RPS/m.RPS))
		}
		if m.P99Ms > 0 {
			g.Extra = withExtra(g.Extra, "p99FractionOfMesh", round3(g.P99Ms/m.P99Ms))
		}
	}
}

func find(rows []row, sc, sys string, conc int) *row {
	for i := range rows {
		if rows[i].Scenario == sc && rows[i].System == sys && (conc == 0 || rows[i].Concurrency == conc) {
			return &rows[i]
		}
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}

// printTargets evaluates the targets against the rows (figures only, no assertions).
func printTargets(w io.Writer, rows []row, o *options) {
	fmt.Fprintln(w, "Targets:")
	var scs []string
	for _, r := range rows {
		if !slices.Contains(scs, r.Scenario) {
			scs = append(scs, r.Scenario)
		}
	}
	for _, sc := range scs {
		g := find(rows, sc, "gateway", 0)
		if g == nil || g.MinimumCalls < 0 {
			continue
		}
		line := fmt.Sprintf("- %s: gateway upstream calls %s vs minimum %s (ratio %s) %s", sc, fmtCalls(g.UpstreamCalls),
			fmtCalls(g.MinimumCalls), ratio(*g), verdict(g.UpstreamCalls <= g.MinimumCalls))
		if d := find(rows, sc, "direct-sequential", 0); d != nil {
			line += fmt.Sprintf("; direct-sequential makes %s", fmtCalls(d.UpstreamCalls))
		}
		fmt.Fprintln(w, line)
	}
	if g := find(rows, "dashboard", "gateway", 0); g != nil && g.Extra != nil {
		floor := g.Extra["concurrencyBoundMs"]
		fmt.Fprintf(w, "- dashboard p50 %s vs 1.15 x the concurrency-bound floor (%d calls/server in flight: %s) = %s: %s (%.2fx the floor); critical path 3 x L = %s\n",
			fmtMs(g.P50Ms), o.maxConc, fmtMs(floor), fmtMs(1.15*floor), verdict(g.P50Ms <= 1.15*floor), g.P50Ms/floor, fmtMs(g.Extra["criticalPathMs"]))
		if d := find(rows, "dashboard", "direct-sequential", 0); d != nil && g.P50Ms > 0 {
			fmt.Fprintf(w, "- dashboard vs direct-sequential: %.1fx faster (target >= 10x): %s\n", d.P50Ms/g.P50Ms, verdict(d.P50Ms/g.P50Ms >= 10))
		}
		if d := find(rows, "dashboard", "direct-parallel", 0); d != nil && g.P50Ms > 0 {
			fmt.Fprintf(w, "- dashboard vs direct-parallel: p50 %s vs %s, calls %s vs %s\n", fmtMs(g.P50Ms), fmtMs(d.P50Ms), fmtCalls(g.UpstreamCalls), fmtCalls(d.UpstreamCalls))
		}
	}
	if g := find(rows, "repeat-dashboard", "gateway", 0); g != nil && g.Extra != nil {
		st := g.Extra["stoppedSessionCalls"]
		fmt.Fprintf(w, "- repeat-dashboard: %.0f upstream calls for stopped sessions (target 0): %s; %.0f events calls for working sessions (not cacheable)\n",
			st, verdict(st == 0), g.Extra["workingSessionCalls"])
	}
	for _, c := range o.concurrency {
		g, m := find(rows, "overhead", "gateway", c), find(rows, "overhead", "mesh", c)
		if g == nil || m == nil || m.RPS == 0 || g.P99Ms == 0 {
			continue
		}
		if gc, mc := g.Extra["cpuMsPerRequest"], m.Extra["cpuMsPerRequest"]; gc > 0 && mc > 0 {
			fmt.Fprintf(w, "- overhead C=%d: CPU per request gateway %.3f ms vs mesh %.3f ms (1/%.1f, target <= 1/5): %s\n",
				c, gc, mc, mc/gc, verdict(gc*5 <= mc))
		}
		fmt.Fprintf(w, "- overhead C=%d: gateway %.0f req/s vs mesh %.0f (%.1fx, target >= 5x): %s; p99 %s vs %s (1/%.1f, target <= 1/5): %s\n",
			c, g.RPS, m.RPS, g.RPS/m.RPS, verdict(g.RPS >= 5*m.RPS), fmtMs(g.P99Ms), fmtMs(m.P99Ms), m.P99Ms/g.P99Ms, verdict(g.P99Ms*5 <= m.P99Ms))
	}
	printArchiveTargets(w, rows, o)
	if g := find(rows, "memory", "gateway", 0); g != nil {
		fmt.Fprintf(w, "- memory: %d-event session streamed in %.0f pages of %d: gateway peak RSS %s (before the stream: %s), target < 100 MiB: %s\n",
			o.largeEvents, g.Extra["pages"], o.eventsPage, fmtBytes(g.PeakRssBytes), fmtBytes(int64(g.Extra["baselineRssBytes"])), verdict(g.PeakRssBytes < 100<<20))
	}
}

// printArchiveTargets: the dashboard and the overhead query read from the archive
// (gateway-archive) beside the same from VBO (gateway) and Hive Gateway (mesh): calls and CPU
// per request side by side; targets of #28: the dashboard's p50 <= 50 ms with 0 upstream calls.
func printArchiveTargets(w io.Writer, rows []row, o *options) {
	cpu := func(r *row) string {
		if r == nil || r.Extra["cpuMsPerRequest"] == 0 {
			return "-"
		}
		return fmtMs(r.Extra["cpuMsPerRequest"])
	}
	calls := func(r *row) string {
		if r == nil {
			return "-"
		}
		return fmtCalls(r.UpstreamCalls)
	}
	if a := find(rows, "dashboard", "gateway-archive", 0); a != nil {
		g := find(rows, "dashboard", "gateway", 0)
		fmt.Fprintf(w, "- dashboard from the archive: p50 %s (target <= 50 ms): %s; upstream calls %s (target 0): %s; CPU per request archive %s vs VBO %s, calls %s vs %s\n",
			fmtMs(a.P50Ms), verdict(a.P50Ms <= 50), fmtCalls(a.UpstreamCalls), verdict(a.UpstreamCalls == 0), cpu(a), cpu(g), calls(a), calls(g))
	}
	for _, c := range o.concurrency {
		a := find(rows, "overhead", "gateway-archive", c)
		if a == nil {
			continue
		}
		g, m := find(rows, "overhead", "gateway", c), find(rows, "overhead", "mesh", c)
		fmt.Fprintf(w, "- overhead C=%d: CPU per request archive %s, VBO %s, Hive Gateway %s; upstream calls %s, %s, %s\n",
			c, cpu(a), cpu(g), cpu(m), calls(a), calls(g), calls(m))
	}
}

// ---- SVG chart ----

var systemColors = map[string]string{
	"gateway": "#1f77b4", "gateway-archive": "#9467bd", "direct-sequential": "#d62728", "direct-parallel": "#ff7f0e", "mesh": "#2ca02c",
}

// renderSVG draws p50 latency per scenario per system as horizontal bars on a log scale, with
// upstream calls written next to each bar. Plain SVG, no dependencies.
func renderSVG(rows []row, o *options) []byte {
	type bar struct {
		label string
		r     row
	}
	var bars []bar
	var groups []string
	for _, r := range rows {
		g := r.Scenario
		if r.Scenario == "overhead" {
			g = fmt.Sprintf("overhead C=%d", r.Concurrency)
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
		bars = append(bars, bar{label: g, r: r})
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range bars {
		if b.r.P50Ms > 0 {
			lo, hi = math.Min(lo, b.r.P50Ms), math.Max(hi, b.r.P50Ms)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	const (
		left, right, top, barH, gap, width = 190, 260, 60, 14, 12, 1000
	)
	plotW := float64(width - left - right)
	x := func(v float64) float64 {
		if v <= lo {
			return left
		}
		return left + plotW*(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}
	height := top + len(bars)*barH + len(groups)*gap + 60
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">vbo-bench: p50 latency per scenario and system (log scale); label: p50, upstream calls / minimum</text>`+"\n", 10)
	fmt.Fprintf(&b, `<text x="%d" y="38" fill="#555">L=%s jitter=%s, %d servers x %d orgs, %d sessions/server, max %d calls/server in flight</text>`+"\n",
		10, o.latency, o.jitter, o.servers, o.orgs, o.sessions, o.maxConc)
	// grid
	for v := lo; v <= hi*1.001; v *= 10 {
		xx := x(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", xx, top-8, xx, height-50)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", xx, height-36, html.EscapeString(fmtMs(v)))
	}
	y := top
	cur := ""
	for _, br := range bars {
		if br.label != cur {
			cur = br.label
			y += gap
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", 10, y+barH-3, html.EscapeString(cur))
		}
		col := systemColors[br.r.System]
		if col == "" {
			col = "#888"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#333">%s</text>`+"\n", left-6, y+barH-3, html.EscapeString(br.r.System))
		w := math.Max(1, x(br.r.P50Ms)-left)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+1, w, barH-2, col)
		lbl := fmt.Sprintf("%s, %s / %s calls", fmtMs(br.r.P50Ms), fmtCalls(br.r.UpstreamCalls), fmtCalls(br.r.MinimumCalls))
		if br.r.Scenario == "overhead" {
			lbl = fmt.Sprintf("%s, %.0f req/s", fmtMs(br.r.P50Ms), br.r.RPS)
		}
		if c := fmtCPU(br.r); c != "-" {
			lbl += ", CPU " + c
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#333">%s</text>`+"\n", left+w+4, y+barH-3, html.EscapeString(lbl))
		y += barH
	}
	// legend
	lx := 10
	for _, s := range allSystems {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			lx, height-18, systemColors[s], lx+14, height-9, s)
		lx += 30 + 7*len(s)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
