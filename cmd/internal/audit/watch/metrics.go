package watch

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/metrics"
)

// ns prefixes the watch's metric names (vbo_gateway_watch_...).
const ns = metrics.Namespace + "_watch_"

var (
	descLeader     = prometheus.NewDesc(ns+"leader", "1 when this replica holds the server's lease (polls it).", []string{"server"}, nil)
	descPolls      = prometheus.NewDesc(ns+"polls_total", "Polls of the server run by this replica.", []string{"server"}, nil)
	descErrors     = prometheus.NewDesc(ns+"poll_errors_total", "Polls of the server by this replica that failed.", []string{"server"}, nil)
	descProgress   = prometheus.NewDesc(ns+"backfill_progress_ratio", "Share of the backfill window archived by this replica's poller (1 when done).", []string{"server"}, nil)
	descLastPoll   = prometheus.NewDesc(ns+"last_poll_timestamp_seconds", "End of the server's last successful poll (any replica).", []string{"server"}, nil)
	descArchived   = prometheus.NewDesc(ns+"archived_sessions", "Restore sessions of the server in the archive.", []string{"server"}, nil)
	descDone       = prometheus.NewDesc(ns+"backfill_done", "1 once the server's backfill has finished.", []string{"server"}, nil)
	descRetries    = prometheus.NewDesc(ns+"retries_total", "Upstream calls of this replica's polls sent again after a transient error.", []string{"server"}, nil)
	descSweeps     = prometheus.NewDesc(ns+"sweeps_total", "Reconciliation sweeps of the server run by this replica.", []string{"server"}, nil)
	descSweepCalls = prometheus.NewDesc(ns+"sweep_calls_total", "Listing calls made by this replica's reconciliation sweeps (at most sweep.maxCalls per sweep).", []string{"server"}, nil)
	descFoundLate  = prometheus.NewDesc(ns+"found_late_sessions_total", "Sessions this replica's sweeps archived after the incremental poll had missed them.", []string{"server"}, nil)
)

// Collector exposes the watch's metrics (server names only, like the other gateway metrics).
func (w *Watcher) Collector() prometheus.Collector { return collector{w} }

type collector struct{ w *Watcher }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeader, descPolls, descErrors, descProgress, descLastPoll, descArchived, descDone,
		descRetries, descSweeps, descSweepCalls, descFoundLate} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.w.pollers {
		s := p.Stats()
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, b2f(s.Leader), p.name)
		ch <- prometheus.MustNewConstMetric(descPolls, prometheus.CounterValue, float64(s.Polls), p.name)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(s.PollErrors), p.name)
		ch <- prometheus.MustNewConstMetric(descProgress, prometheus.GaugeValue, s.BackfillProgress, p.name)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(s.Retries), p.name)
		ch <- prometheus.MustNewConstMetric(descSweeps, prometheus.CounterValue, float64(s.Sweeps), p.name)
		ch <- prometheus.MustNewConstMetric(descSweepCalls, prometheus.CounterValue, float64(s.SweepCalls), p.name)
		ch <- prometheus.MustNewConstMetric(descFoundLate, prometheus.CounterValue, float64(s.FoundLate), p.name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states, err := c.w.o.Store.States(ctx)
	if err != nil {
		return
	}
	for _, st := range states {
		if _, ok := c.w.byName[st.Server]; !ok {
			continue
		}
		if !st.LastPoll.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastPoll, prometheus.GaugeValue, float64(st.LastPoll.UnixNano())/1e9, st.Server)
		}
		ch <- prometheus.MustNewConstMetric(descArchived, prometheus.GaugeValue, float64(st.Archived), st.Server)
		ch <- prometheus.MustNewConstMetric(descDone, prometheus.GaugeValue, b2f(st.BackfillDone), st.Server)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
