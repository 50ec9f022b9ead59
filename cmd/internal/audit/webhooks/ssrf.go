package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"
)

// ErrRefusedTarget is returned (wrapped) for a webhook URL or address the policy refuses:
// a scheme other than https (unless AllowHTTP), or an address in a loopback, private,
// link-local (cloud metadata 169.254.169.254 included), CGNAT, unique-local or other
// special-purpose range that AllowPrivateNetworks does not list.
var ErrRefusedTarget = errors.New("webhook target refused")

// Resolver looks host names up. *net.Resolver satisfies it; tests substitute their own to
// play DNS rebinding.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy says which webhook targets are acceptable.
type Policy struct {
	// AllowHTTP accepts http:// URLs (development and tests only).
	AllowHTTP bool
	// AllowPrivateNetworks are ranges accepted although the built-in list refuses them.
	AllowPrivateNetworks []netip.Prefix
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver Resolver
}

// Guard applies a Policy: to URLs when a rule is created (CheckURL) and to every address the
// delivery client connects to (Control), which defeats DNS rebinding. Safe for concurrent use.
type Guard struct {
	allowHTTP bool
	resolver  Resolver
	guardian  *ssrf.Guardian
}

// NewGuard builds a Guard. Invalid prefixes are refused.
func NewGuard(p Policy) (*Guard, error) {
	var v4, v6 []netip.Prefix
	for _, pfx := range p.AllowPrivateNetworks {
		if !pfx.IsValid() {
			return nil, fmt.Errorf("webhooks.allowPrivateNetworks: invalid prefix %v", pfx)
		}
		pfx = pfx.Masked()
		if pfx.Addr().Is4() {
			v4 = append(v4, pfx)
		} else {
			v6 = append(v6, pfx)
		}
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	return &Guard{
		allowHTTP: p.AllowHTTP,
		resolver:  r,
		// Any port: receivers legitimately listen on 8443 and the like; the address is what
		// matters. TCP only.
		guardian: ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...)),
	}, nil
}

// ParsePrefixes parses CIDR text (as in webhooks.allowPrivateNetworks). A bare address is a
// single-address prefix.
func ParsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("%q: want a CIDR such as 10.0.0.0/8", c)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("%q: want a CIDR such as 10.0.0.0/8", c)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// CheckAddr reports whether the policy lets the gateway connect to a.
func (g *Guard) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	if err := g.guardian.SafeAddr(a); err != nil {
		return fmt.Errorf("%w: %s is in a loopback, private, link-local or other special-purpose range (allow it with webhooks.allowPrivateNetworks): %w",
			ErrRefusedTarget, a, err)
	}
	return nil
}

// CheckURL validates a webhook URL when a rule is created or changed: the scheme, the host,
// and every address the host resolves to now. It is checked again at each connection.
func (g *Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: %q is not an absolute URL", ErrRefusedTarget, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !g.allowHTTP {
			return nil, fmt.Errorf("%w: the URL must use https (http needs webhooks.allowHTTP)", ErrRefusedTarget)
		}
	default:
		return nil, fmt.Errorf("%w: the URL must use https", ErrRefusedTarget)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL are not accepted (the signature authenticates the gateway)", ErrRefusedTarget)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("%w: the URL has no host", ErrRefusedTarget)
	}
	if err := checkPort(u.Port()); err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := g.CheckAddr(a); err != nil {
			return nil, fmt.Errorf("%s: %w", host, err)
		}
	}
	return u, nil
}

// resolve returns host's addresses (the host itself when it is an address).
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		if a.Zone() != "" {
			return nil, fmt.Errorf("%w: %s: zoned addresses are not accepted", ErrRefusedTarget, host)
		}
		return []netip.Addr{a}, nil
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefusedTarget, newResolveError(host, err))
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %s resolves to no address", ErrRefusedTarget, host)
	}
	return addrs, nil
}

// Control is a net.Dialer Control function: it runs after the socket is created and before it
// connects, with the address actually being dialled, and refuses addresses the policy does not
// accept. Only TCP is dialled.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s", ErrRefusedTarget, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrRefusedTarget, address)
	}
	return g.CheckAddr(ap.Addr())
}

// DialContext resolves addr's host with the Guard's resolver and connects to the first
// address that both passes the policy (Control checks it again on the socket) and answers.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Control: g.Control}
	var errs []error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// checkPort accepts an absent port (the scheme's) or one in 1..65535: url.Parse takes any
// digits, and port 0 would let the operating system pick.
func checkPort(p string) error {
	if p == "" {
		return nil
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%w: port %s is not in 1..65535", ErrRefusedTarget, excerpt(p, 8))
	}
	return nil
}

// ResolveError says a webhook host could not be resolved. Its text names only the host and
// the kind of failure, never the resolver's own address (a *net.DNSError's text says which
// server was asked, an internal address of the gateway's network); the lookup's error stays
// reachable with errors.As.
type ResolveError struct {
	Host string
	// NotFound: the name does not exist; Timeout: the lookup timed out.
	NotFound, Timeout bool
	err               error
}

func newResolveError(host string, err error) *ResolveError {
	e := &ResolveError{Host: host, err: err}
	var de *net.DNSError
	if errors.As(err, &de) {
		e.NotFound, e.Timeout = de.IsNotFound, de.IsTimeout
	} else {
		e.Timeout = errors.Is(err, context.DeadlineExceeded)
	}
	return e
}

func (e *ResolveError) Error() string {
	switch {
	case e.NotFound:
		return fmt.Sprintf("cannot resolve host %s: no such host", e.Host)
	case e.Timeout:
		return fmt.Sprintf("cannot resolve host %s: the lookup timed out", e.Host)
	}
	return fmt.Sprintf("cannot resolve host %s", e.Host)
}

func (e *ResolveError) Unwrap() error { return e.err }

// excerpt shortens s to n bytes for an error message.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
