package metrics

import "github.com/prometheus/client_golang/prometheus"

// ArchiveSnapshot is what the archive collector reads at scrape time (app adapts
// store.WriteState).
type ArchiveSnapshot struct {
	Driver   string
	Writable bool
	// Failures counts the archive operations that failed because its database could not be
	// reached or written, by cause class, since the process started.
	Failures map[string]uint64
}

var (
	descArchiveWritable = prometheus.NewDesc(Namespace+"_archive_writable",
		"1 while the restore audit archive can be written, 0 from an operation that found its database unreachable, full or read-only until a write commits again.",
		[]string{"driver"}, nil)
	descArchiveFailures = prometheus.NewDesc(Namespace+"_archive_failures_total",
		"Archive operations that failed because its database could not be reached or written, by cause (connection, shutdown, disk_full, io, busy, resources, read_only, cant_open, corrupt, closed).",
		[]string{"driver", "cause"}, nil)
)

// Archive is the collector of the restore audit archive's writability (gauge) and failures
// (counter by cause), read from snapshot at scrape time; pass it to Register.
func Archive(snapshot func() ArchiveSnapshot) prometheus.Collector {
	return &archiveCollector{snapshot: snapshot}
}

type archiveCollector struct{ snapshot func() ArchiveSnapshot }

func (c *archiveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descArchiveWritable
	ch <- descArchiveFailures
}

func (c *archiveCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	w := 0.0
	if s.Writable {
		w = 1
	}
	ch <- prometheus.MustNewConstMetric(descArchiveWritable, prometheus.GaugeValue, w, s.Driver)
	for cause, n := range s.Failures {
		ch <- prometheus.MustNewConstMetric(descArchiveFailures, prometheus.CounterValue, float64(n), s.Driver, cause)
	}
}
