package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebhooksSection(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, w Webhooks)
	}{
		{"defaults", "", "", func(t *testing.T, w Webhooks) {
			if w.AllowHTTP || w.Timeout != 15*time.Second || w.RetryJitter != 0.1 || w.Workers != 10 || w.RetrySchedule != nil ||
				w.HistoryRetention == nil || *w.HistoryRetention != 720*time.Hour || w.Retention() != 720*time.Hour {
				t.Errorf("defaults %+v", w)
			}
		}},
		{"development settings", `
webhooks:
  allowHTTP: true
  allowPrivateNetworks: [127.0.0.0/8, "10.20.0.0/16", "::1"]
  timeout: 5s
  retrySchedule: [0s, 100ms, 200ms]
  retryJitter: -1
`, "", func(t *testing.T, w Webhooks) {
			p, err := w.AllowedPrefixes()
			if err != nil || len(p) != 3 || p[2].String() != "::1/128" {
				t.Errorf("prefixes %v (%v)", p, err)
			}
			if !w.AllowHTTP || w.Timeout != 5*time.Second || len(w.RetrySchedule) != 3 || w.RetryJitter != 0 {
				t.Errorf("settings %+v", w)
			}
		}},
		{"history kept for a week", "webhooks: {historyRetention: 168h}", "", func(t *testing.T, w Webhooks) {
			if w.Retention() != 7*24*time.Hour {
				t.Errorf("historyRetention %v, want 168h", w.Retention())
			}
		}},
		{"history kept for ever", "webhooks: {historyRetention: 0s}", "", func(t *testing.T, w Webhooks) {
			if w.HistoryRetention == nil || w.Retention() != 0 {
				t.Errorf("historyRetention %v, want 0 (explicit: keep everything)", w.HistoryRetention)
			}
		}},
		{"negative history retention", "webhooks: {historyRetention: -1h}", "webhooks.historyRetention", nil},
		{"history retention not a duration", "webhooks: {historyRetention: 30d}", "30d", nil},
		{"bad CIDR", "webhooks: {allowPrivateNetworks: [10.0.0.0/40]}", "allowPrivateNetworks[0]", nil},
		{"timeout too long", "webhooks: {timeout: 5m}", "webhooks.timeout", nil},
		{"negative retry", "webhooks: {retrySchedule: [0s, -1s]}", "retrySchedule[1]", nil},
		{"empty retry schedule", "webhooks: {retrySchedule: []}", "retrySchedule", nil},
		{"jitter too large", "webhooks: {retryJitter: 1.5}", "retryJitter", nil},
		{"unknown key", "webhooks: {allowHttp: true}", "allowHttp", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cfgtParse(cfgtServers + tt.yaml)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Webhooks)
		})
	}
}

// WithDefaults fills HistoryRetention only when it is unset, and never writes through the
// caller's pointer; Retention reads an unset value as the default.
func TestWebhooksHistoryRetentionDefaults(t *testing.T) {
	ptr := func(d time.Duration) *time.Duration { return &d }
	tests := []struct {
		name    string
		in      *time.Duration
		want    time.Duration
		wantErr bool
	}{
		{"unset", nil, 720 * time.Hour, false},
		{"zero keeps everything", ptr(0), 0, false},
		{"an hour", ptr(time.Hour), time.Hour, false},
		{"negative", ptr(-time.Second), -time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Webhooks{HistoryRetention: tt.in}
			if got := w.Retention(); got != tt.want {
				t.Errorf("Retention() before defaults = %v, want %v", got, tt.want)
			}
			d := w.WithDefaults()
			if d.HistoryRetention == nil || *d.HistoryRetention != tt.want {
				t.Fatalf("WithDefaults().HistoryRetention = %v, want %v", d.HistoryRetention, tt.want)
			}
			if tt.in == nil && w.HistoryRetention != nil {
				t.Error("WithDefaults changed its receiver")
			}
			if err := d.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
