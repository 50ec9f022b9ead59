package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRestoreValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    Restore
		watch bool
		err   string
	}{
		{"defaults, off", Restore{}, false, ""},
		{"on with the store", Restore{Enabled: true}, true, ""},
		{"on without the store", Restore{Enabled: true}, false, "restore.enabled"},
		{"idle too short", Restore{IdleTimeout: time.Second}, true, "restore.idleTimeout"},
		{"idle too long", Restore{IdleTimeout: 25 * time.Hour}, true, "restore.idleTimeout"},
		{"negative max open", Restore{MaxOpenSessionsPerPerson: -1}, true, "restore.maxOpenSessionsPerPerson"},
		{"max open too large", Restore{MaxOpenSessionsPerPerson: 101}, true, "restore.maxOpenSessionsPerPerson"},
		{"negative rate", Restore{StepsPerMinute: -5}, true, "restore.stepsPerMinute"},
		{"reap slower than idle", Restore{IdleTimeout: 2 * time.Minute, ReapInterval: 3 * time.Minute}, true, "restore.reapInterval"},
		{"reap too fast", Restore{ReapInterval: time.Millisecond}, true, "restore.reapInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.in.WithDefaults().Validate(tt.watch)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.err)
			}
		})
	}
	d := (Restore{}).WithDefaults()
	if d.Enabled || d.IdleTimeout != 30*time.Minute || d.MaxOpenSessionsPerPerson != 3 || d.StepsPerMinute != 120 || d.ReapInterval != time.Minute {
		t.Errorf("defaults %+v", d)
	}
}

// The restore section is parsed and checked at load: a bad one is refused with its key named.
func TestRestoreSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, err string
		want            Restore
	}{
		{"unset: off, defaults", "", "", Restore{IdleTimeout: 30 * time.Minute, MaxOpenSessionsPerPerson: 3, StepsPerMinute: 120, ReapInterval: time.Minute}},
		{"on", "watch: {enabled: true}\nrestore: {enabled: true, idleTimeout: 10m, maxOpenSessionsPerPerson: 1}", "",
			Restore{Enabled: true, IdleTimeout: 10 * time.Minute, MaxOpenSessionsPerPerson: 1, StepsPerMinute: 120, ReapInterval: time.Minute}},
		{"on without the watch", "restore: {enabled: true}", "restore.enabled", Restore{}},
		{"unknown key", "restore: {enabled: false, idle: 5m}", "idle", Restore{}},
		{"bad timeout", "restore: {idleTimeout: 5s}", "restore.idleTimeout", Restore{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := cfgtParseSection(t, tt.yaml, tt.err)
			if c == nil {
				return
			}
			got := c.Restore
			got.RestoreActions = RestoreActions{} // the item actions' keys: restore_actions_test.go
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("restore = %+v, want %+v", c.Restore, tt.want)
			}
		})
	}
}
