package config

import (
	"strings"
	"testing"
	"time"
)

func TestWatchAndStoreConfig(t *testing.T) {
	env := cfgtEnv(map[string]string{"SYD1_PW": "pw-syd1", "PG_DSN": "postgres://gw@db/gw"})
	files := cfgtFiles(map[string]string{"/run/secrets/mel1": "pw-mel1"})
	tests := []struct {
		name, yaml string
		check      func(t *testing.T, c *Config)
		wantErr    string
	}{
		{name: "off by default", yaml: ``, check: func(t *testing.T, c *Config) {
			if c.Watch.Enabled || c.Store.Driver != "sqlite" || c.Store.Path != DefaultStorePath {
				t.Fatalf("%+v %+v", c.Watch, c.Store)
			}
			w := c.Watch.WithDefaults()
			if w.Interval != 15*time.Second || w.Overlap != 2*time.Minute || w.Backfill != 720*time.Hour || w.Retention != 0 {
				t.Fatalf("defaults %+v", w)
			}
		}},
		{name: "sqlite", yaml: "watch: {enabled: true, interval: 5s, overlap: 1m, backfill: 24h, retention: 8760h}\nstore: {driver: sqlite, path: /var/lib/gw.db}",
			check: func(t *testing.T, c *Config) {
				if !c.Watch.Enabled || c.Watch.Interval != 5*time.Second || c.Watch.Retention != 8760*time.Hour || c.Store.Path != "/var/lib/gw.db" {
					t.Fatalf("%+v %+v", c.Watch, c.Store)
				}
			}},
		{name: "postgres DSN from the environment", yaml: "watch: {enabled: true}\nstore: {driver: postgres, dsnEnv: PG_DSN}",
			check: func(t *testing.T, c *Config) {
				if c.Store.DSN() != "postgres://gw@db/gw" {
					t.Fatalf("dsn %q", c.Store.DSN())
				}
			}},
		{name: "no backfill", yaml: "watch: {enabled: true, backfill: -1s}", check: func(t *testing.T, c *Config) {
			if c.Watch.WithDefaults().Backfill != 0 {
				t.Fatal(c.Watch.WithDefaults().Backfill)
			}
		}},
		{name: "unset DSN variable", yaml: "watch: {enabled: true}\nstore: {driver: postgres, dsnEnv: NOPE}", wantErr: "NOPE"},
		{name: "DSN in the file", yaml: "store: {driver: postgres, dsn: postgres://x}", wantErr: "store.dsn: unknown key; the DSN never sits in this file"},
		{name: "postgres without dsnEnv", yaml: "store: {driver: postgres}", wantErr: "dsnEnv"},
		{name: "path with postgres", yaml: "store: {driver: postgres, dsnEnv: PG_DSN, path: x.db}", wantErr: "store.path"},
		{name: "unknown driver", yaml: "store: {driver: mysql}", wantErr: "mysql"},
		{name: "tiny interval", yaml: "watch: {enabled: true, interval: 1ms}", wantErr: "watch.interval"},
		{name: "negative retention", yaml: "watch: {retention: -1h}", wantErr: "watch.retention"},
		{name: "unwritable bound", yaml: "watch: {enabled: true, unwritableAfter: 5s}", check: func(t *testing.T, c *Config) {
			if c.Watch.WithDefaults().UnwritableAfter != 5*time.Second {
				t.Fatal(c.Watch.WithDefaults().UnwritableAfter)
			}
			if (Watch{}).WithDefaults().UnwritableAfter != time.Minute {
				t.Fatal("default unwritableAfter is not 1m")
			}
		}},
		{name: "negative unwritable bound", yaml: "watch: {unwritableAfter: -1s}", wantErr: "watch.unwritableAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(cfgtServers+tt.yaml), env, files)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
