package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// watch.retention reaches the restore audit: with a retention shorter than the backfill, each
// server's coverage starts at now minus the retention, not at the backfill's start, and a
// report reaching back before it is incomplete.
func TestRestoreAuditCoverageFollowsRetention(t *testing.T) {
	t.Parallel()
	const retention = 30 * 24 * time.Hour // the backfill reaches back 100 days
	_, gw := watchGateway(t, 5, func(c *config.Config) { c.Watch.Retention = retention })
	const q = `query($from: DateTime!, $to: DateTime!) {
		restoreAudit(from: $from, to: $to, groupBy: []) { coverage { server { name } from complete } } }`
	type coverage struct {
		RestoreAudit struct {
			Coverage []struct {
				Server   struct{ Name string }
				From     *time.Time
				Complete bool
			}
		}
	}
	var c coverage
	waitFor(t, 30*time.Second, func() bool {
		before := time.Now()
		c = coverage{}
		mustPost(t, gw, demo.AdminKey, q, map[string]any{"from": before.AddDate(0, 0, -99).Format(time.RFC3339),
			"to": before.Add(time.Hour).Format(time.RFC3339)}, &c)
		after := time.Now()
		started := len(c.RestoreAudit.Coverage) == 3
		for _, s := range c.RestoreAudit.Coverage {
			if s.From == nil {
				started = false
				continue
			}
			if s.From.Before(before.Add(-retention)) || s.From.After(after.Add(-retention)) {
				t.Fatalf("%s: coverage from %v, want now minus the retention (%v..%v)", s.Server.Name, s.From, before.Add(-retention), after.Add(-retention))
			}
			if s.Complete {
				t.Errorf("%s: a report from 99 days ago is complete under a 30-day retention", s.Server.Name)
			}
		}
		return started
	}, "the watcher to start: ", lazy(func() string { return fmt.Sprintf("%+v", c) }))
}
