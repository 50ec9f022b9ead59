package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// HTTP configures the gateway's own HTTP server: how many connections it holds, how long it
// waits for a client, and which reverse proxies it believes about the client's address. Zero
// values take the defaults (see WithDefaults).
type HTTP struct {
	// MaxConnections bounds the connections served at once (default 1024; -1: no bound). A
	// connection over the bound waits in the kernel's accept queue until one closes.
	MaxConnections int `yaml:"maxConnections"`
	// ReadHeaderTimeout bounds reading a request's headers (default 10s).
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout"`
	// ReadTimeout bounds reading a whole request, body included (default 30s).
	ReadTimeout time.Duration `yaml:"readTimeout"`
	// WriteTimeout bounds a request from the end of its headers to the end of its response
	// (default 2m; must exceed resilience.requestTimeout).
	WriteTimeout time.Duration `yaml:"writeTimeout"`
	// IdleTimeout closes a keep-alive connection idle this long (default 2m).
	IdleTimeout time.Duration `yaml:"idleTimeout"`
	// MaxHeaderBytes bounds a request's headers, URL included (default 256 KiB).
	MaxHeaderBytes int `yaml:"maxHeaderBytes"`
	// TrustedProxies are the reverse proxies (addresses or CIDRs, e.g. "10.0.0.0/8") whose
	// X-Forwarded-For header names the client. Default none: X-Forwarded-For is never read,
	// and the client is the connection's peer address.
	TrustedProxies []string `yaml:"trustedProxies"`
}

// Defaults of HTTP.
const (
	DefaultMaxConnections    = 1024
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 2 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 256 << 10
)

// WithDefaults returns h with zero values replaced by the defaults.
func (h HTTP) WithDefaults() HTTP {
	defInt(&h.MaxConnections, DefaultMaxConnections)
	defDur(&h.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	defDur(&h.ReadTimeout, DefaultReadTimeout)
	defDur(&h.WriteTimeout, DefaultWriteTimeout)
	defDur(&h.IdleTimeout, DefaultIdleTimeout)
	defInt(&h.MaxHeaderBytes, DefaultMaxHeaderBytes)
	return h
}

// Validate checks h (after WithDefaults) against the request deadline it must outlast.
func (h HTTP) Validate(requestTimeout time.Duration) error {
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"readHeaderTimeout", h.ReadHeaderTimeout}, {"readTimeout", h.ReadTimeout}, {"writeTimeout", h.WriteTimeout}, {"idleTimeout", h.IdleTimeout}} {
		if f.v <= 0 {
			return fmt.Errorf("http.%s: must be positive (got %s)", f.name, f.v)
		}
	}
	if h.MaxConnections < -1 || h.MaxConnections == 0 {
		return fmt.Errorf("http.maxConnections: positive, or -1 for no bound (got %d)", h.MaxConnections)
	}
	if h.MaxHeaderBytes < 1 {
		return fmt.Errorf("http.maxHeaderBytes: must be positive (got %d)", h.MaxHeaderBytes)
	}
	if requestTimeout > 0 && h.WriteTimeout <= requestTimeout {
		return fmt.Errorf("http.writeTimeout (%s) must exceed resilience.requestTimeout (%s), or answers are cut off", h.WriteTimeout, requestTimeout)
	}
	_, err := h.Proxies()
	return err
}

// Proxies parses TrustedProxies: an address is a one-address prefix.
func (h HTTP) Proxies() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(h.TrustedProxies))
	for _, s := range h.TrustedProxies {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("http.trustedProxies: %q is neither an address nor a CIDR like 10.0.0.0/8", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
