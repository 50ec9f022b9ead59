package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Webhooks configures trigger-rule deliveries (Standard Webhooks).
type Webhooks struct {
	// AllowHTTP accepts http:// receiver URLs. Development and tests only: receivers must
	// otherwise use https.
	AllowHTTP bool `yaml:"allowHTTP"`
	// AllowPrivateNetworks are CIDRs (e.g. 10.20.0.0/16) of loopback, private, link-local,
	// CGNAT or unique-local ranges that receivers may nevertheless live in. Everything in
	// those ranges is refused otherwise, when a rule is created and at every connection.
	AllowPrivateNetworks []string `yaml:"allowPrivateNetworks"`
	// Timeout bounds one delivery attempt (default 15s, at most 60s).
	Timeout time.Duration `yaml:"timeout"`
	// RetrySchedule is the delay before each attempt, the first normally 0 (default the
	// specification's: 0, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h).
	RetrySchedule []time.Duration `yaml:"retrySchedule"`
	// RetryJitter spreads each retry by up to this fraction either way (default 0.1; set a
	// negative value for none).
	RetryJitter float64 `yaml:"retryJitter"`
	// Workers is how many deliveries one replica makes at once (default 10).
	Workers int `yaml:"workers"`
	// HistoryRetention deletes finished deliveries (SUCCEEDED, FAILED, CANCELLED), with their
	// attempts, whose last activity is older than this (default 720h, 30 days; 0 keeps them
	// all). Pending deliveries are always kept. Unset means the default, so it is a pointer.
	HistoryRetention *time.Duration `yaml:"historyRetention"`
}

// Webhook defaults.
const (
	DefaultWebhookTimeout = 15 * time.Second
	DefaultWebhookJitter  = 0.1
	DefaultWebhookWorkers = 10
	// DefaultWebhookHistoryRetention is how long finished deliveries stay queryable: 30 days.
	DefaultWebhookHistoryRetention = 720 * time.Hour
	maxWebhookTimeout              = time.Minute
	maxRetrySchedule               = 50
)

// WithDefaults returns w with zero values replaced by the defaults.
func (w Webhooks) WithDefaults() Webhooks {
	if w.Timeout == 0 {
		w.Timeout = DefaultWebhookTimeout
	}
	switch {
	case w.RetryJitter == 0:
		w.RetryJitter = DefaultWebhookJitter
	case w.RetryJitter < 0:
		w.RetryJitter = 0
	}
	if w.Workers == 0 {
		w.Workers = DefaultWebhookWorkers
	}
	if w.HistoryRetention == nil {
		d := DefaultWebhookHistoryRetention
		w.HistoryRetention = &d
	}
	return w
}

// Retention is HistoryRetention, or its default when unset (0: keep every delivery).
func (w Webhooks) Retention() time.Duration {
	if w.HistoryRetention == nil {
		return DefaultWebhookHistoryRetention
	}
	return *w.HistoryRetention
}

// AllowedPrefixes parses AllowPrivateNetworks (a bare address is a single-address prefix).
func (w Webhooks) AllowedPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(w.AllowPrivateNetworks))
	for i, c := range w.AllowPrivateNetworks {
		c = strings.TrimSpace(c)
		var p netip.Prefix
		var err error
		if strings.Contains(c, "/") {
			p, err = netip.ParsePrefix(c)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(c)
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("webhooks.allowPrivateNetworks[%d]: %q is not a CIDR such as 10.0.0.0/8", i, c)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Validate checks w (after WithDefaults).
func (w Webhooks) Validate() error {
	if _, err := w.AllowedPrefixes(); err != nil {
		return err
	}
	if w.Timeout < 0 || w.Timeout > maxWebhookTimeout {
		return fmt.Errorf("webhooks.timeout %s: want between 1s and %s", w.Timeout, maxWebhookTimeout)
	}
	if w.RetrySchedule != nil && (len(w.RetrySchedule) == 0 || len(w.RetrySchedule) > maxRetrySchedule) {
		return fmt.Errorf("webhooks.retrySchedule: want 1 to %d delays", maxRetrySchedule)
	}
	for i, d := range w.RetrySchedule {
		if d < 0 {
			return fmt.Errorf("webhooks.retrySchedule[%d]: negative delay", i)
		}
	}
	if w.RetryJitter >= 1 {
		return errors.New("webhooks.retryJitter: want a fraction below 1")
	}
	if w.Workers < 1 || w.Workers > 1000 {
		return fmt.Errorf("webhooks.workers %d: want 1 to 1000", w.Workers)
	}
	if r := w.Retention(); r < 0 {
		return fmt.Errorf("webhooks.historyRetention %s: must not be negative (0 keeps every delivery)", r)
	}
	return nil
}
