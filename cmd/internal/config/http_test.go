package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigHTTP(t *testing.T) {
	c := cfgtMustParse(t, cfgtServers+`
http:
  maxConnections: 50
  readTimeout: 5s
  trustedProxies: ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
`)
	hc := c.HTTP.WithDefaults()
	if hc.MaxConnections != 50 || hc.ReadTimeout != 5*time.Second || hc.ReadHeaderTimeout != DefaultReadHeaderTimeout ||
		hc.WriteTimeout != DefaultWriteTimeout || hc.MaxHeaderBytes != DefaultMaxHeaderBytes {
		t.Errorf("http = %+v", hc)
	}
	got, err := hc.Proxies()
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("proxies = %v, %v; want %v", got, err, want)
	}
	if d := (HTTP{}).WithDefaults(); len(d.TrustedProxies) != 0 || d.MaxConnections != DefaultMaxConnections {
		t.Errorf("defaults = %+v (no proxy may be trusted by default)", d)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"http: {trustedProxies: [\"10.0.0.0/33\"]}", "trustedProxies"},
		{"http: {trustedProxies: [\"proxy.example\"]}", "trustedProxies"},
		{"http: {maxConnections: -5}", "maxConnections"},
		{"http: {writeTimeout: 5s}", "writeTimeout"}, // below the default 15s request deadline
		{"http: {readTimeout: -1s}", "readTimeout"},
	} {
		_, err := cfgtParse(cfgtServers + tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %s", tc.yaml, err, tc.want)
		}
	}
}

func TestConfigConcurrencyLimits(t *testing.T) {
	l := Limits{}.WithDefaults()
	if l.Concurrency.PerPrincipal != DefaultPerPrincipal || l.Concurrency.MaxQueued != DefaultMaxQueued ||
		l.Concurrency.QueueTimeout != DefaultQueueTimeout || l.AuthFailures.Delay != DefaultAuthFailureDelay {
		t.Errorf("defaults = %+v %+v", l.Concurrency, l.AuthFailures)
	}
	bad := Limits{Concurrency: Concurrency{PerPrincipal: -3}}.WithDefaults()
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "concurrency") {
		t.Errorf("perPrincipal -3: %v", err)
	}
	off := Limits{Concurrency: Concurrency{PerPrincipal: -1, MaxQueued: -1}}.WithDefaults()
	if err := off.Validate(); err != nil {
		t.Errorf("-1 (off) refused: %v", err)
	}
}
