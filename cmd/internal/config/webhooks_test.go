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
			if w.AllowHTTP || w.Timeout != 15*time.Second || w.RetryJitter != 0.1 || w.Workers != 10 || w.RetrySchedule != nil {
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
