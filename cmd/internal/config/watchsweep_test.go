package config

import (
	"strings"
	"testing"
	"time"
)

func TestWatchSweepConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      WatchSweep
		want    WatchSweep
		wantErr string
	}{
		{name: "defaults", want: WatchSweep{Interval: 10 * time.Minute, Window: 24 * time.Hour, MaxCalls: 20}},
		{name: "set", in: WatchSweep{Interval: time.Hour, Window: 48 * time.Hour, MaxCalls: 5}, want: WatchSweep{Interval: time.Hour, Window: 48 * time.Hour, MaxCalls: 5}},
		{name: "off", in: WatchSweep{Interval: -time.Second}, want: WatchSweep{Interval: -time.Second, Window: 24 * time.Hour, MaxCalls: 20}},
		{name: "interval below the poll's", in: WatchSweep{Interval: time.Second}, wantErr: "watch.sweep.interval 1s: at least watch.interval"},
		{name: "window within the overlap", in: WatchSweep{Window: time.Minute}, wantErr: "watch.sweep.window 1m0s: longer than watch.overlap"},
		{name: "negative window", in: WatchSweep{Window: -time.Hour}, wantErr: "watch.sweep.window"},
		{name: "too many calls", in: WatchSweep{MaxCalls: 10_001}, wantErr: "watch.sweep.maxCalls 10001: 1 to 10000"},
		{name: "negative calls", in: WatchSweep{MaxCalls: -1}, wantErr: "watch.sweep.maxCalls -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := Watch{Sweep: tt.in}.WithDefaults()
			err := w.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || w.Sweep != tt.want {
				t.Fatalf("got %+v, %v; want %+v", w.Sweep, err, tt.want)
			}
		})
	}
}

// TestWatchSweepYAML: the section decodes from the file, and a bad value or unknown key in it
// is refused naming it.
func TestWatchSweepYAML(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(cfgtServers+"watch: {enabled: true, sweep: {interval: 30m, window: 12h, maxCalls: 7}}"), cfgtEnv(map[string]string{"SYD1_PW": "pw"}), cfgtFiles(map[string]string{"/run/secrets/mel1": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Watch.WithDefaults().Sweep; got != (WatchSweep{Interval: 30 * time.Minute, Window: 12 * time.Hour, MaxCalls: 7}) {
		t.Fatalf("sweep %+v", got)
	}
	for yaml, want := range map[string]string{
		"watch: {enabled: true, sweep: {interval: 1s}}": "watch.sweep.interval",
		"watch: {enabled: true, sweep: {often: 1s}}":    "often",
	} {
		if _, err := Parse([]byte(cfgtServers+yaml), cfgtEnv(map[string]string{"SYD1_PW": "pw"}), cfgtFiles(map[string]string{"/run/secrets/mel1": "pw"})); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: err %v, want it to mention %q", yaml, err, want)
		}
	}
}
