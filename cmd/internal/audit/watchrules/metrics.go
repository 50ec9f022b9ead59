package watchrules

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
)

var (
	descAttempts = prometheus.NewDesc("vbo_gateway_webhook_attempts_total",
		"Webhook delivery attempts made by this replica, by result (delivered: 2xx; failed: anything else but 410; gone: 410, the rule disabled).",
		[]string{"result"}, nil)
	descCancelled = prometheus.NewDesc("vbo_gateway_webhook_deliveries_cancelled_total",
		"Deliveries this replica cancelled before sending: rule deleted or disabled, or the session left the owner's scope.", nil, nil)
	descPruned = prometheus.NewDesc("vbo_gateway_webhook_deliveries_pruned_total",
		"Finished deliveries (with their attempts) this replica deleted under webhooks.historyRetention.", nil, nil)
)

// counters are this replica's delivery counts (no rule, tenant or URL in any label).
type counters struct {
	delivered, failed, gone, cancelled, pruned atomic.Int64
}

func (c *counters) attempt(r webhooks.Result) {
	switch r {
	case webhooks.Delivered:
		c.delivered.Add(1)
	case webhooks.Gone:
		c.gone.Add(1)
	default:
		c.failed.Add(1)
	}
}

// Collector exposes the delivery metrics.
func (s *Service) Collector() prometheus.Collector { return collector{&s.counts} }

type collector struct{ c *counters }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAttempts
	ch <- descCancelled
	ch <- descPruned
}

func (x collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(x.c.delivered.Load()), "delivered")
	ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(x.c.failed.Load()), "failed")
	ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(x.c.gone.Load()), "gone")
	ch <- prometheus.MustNewConstMetric(descCancelled, prometheus.CounterValue, float64(x.c.cancelled.Load()))
	ch <- prometheus.MustNewConstMetric(descPruned, prometheus.CounterValue, float64(x.c.pruned.Load()))
}
