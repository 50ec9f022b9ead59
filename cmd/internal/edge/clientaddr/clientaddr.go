// Package clientaddr tells who a request comes from: the client's address behind the trusted
// reverse proxies (http.trustedProxies), the key that throttles it, and whether a proxy stands
// between it and the gateway. The HTTP edge (/graphql, the exports, subscriptions) and the
// console use it alike; the edge records the snapshot's proxies in each /console/ request's
// context (Middleware), so both judge a request by the same configuration.
package clientaddr

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// Proxies are the trusted reverse proxies. The connection's peer is the client, unless the
// peer is a trusted proxy: then X-Forwarded-For is read from the right (the entry the nearest
// proxy appended) and the first address that is not a trusted proxy is the client, within
// MaxForwardedHops entries. Without
// trusted proxies X-Forwarded-For is never read: any client can write it. The zero value
// trusts nobody.
type Proxies []netip.Prefix

// MaxForwardedHops bounds the X-Forwarded-For entries Addr walks, from the right: a chain of
// trusted proxies is a handful of hops, and a header of up to the server's 1 MiB limit must
// not cost a walk over every entry on every request. When that many entries are trusted
// proxies, the farthest of them stands for the client (as when an entry is unreadable).
const MaxForwardedHops = 16

// Trusts reports whether a is a trusted proxy.
func (p Proxies) Trusts(a netip.Addr) bool {
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr reads "1.2.3.4", "1.2.3.4:5", "[::1]:5" or "::1" (IPv4-mapped IPv6 unmapped).
func parseHostAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// Peer is the connection's peer address (false when r.RemoteAddr is unreadable).
func Peer(r *http.Request) (netip.Addr, bool) { return parseHostAddr(r.RemoteAddr) }

// Addr returns the client's address (invalid when even the peer address is unreadable).
func (p Proxies) Addr(r *http.Request) netip.Addr {
	peer, ok := Peer(r)
	if !ok || !p.Trusts(peer) {
		return peer
	}
	// The header's lines are one comma-separated list; walked from its right end in place
	// (no join, no split: the header may be 1 MiB), over MaxForwardedHops entries at most.
	lines := r.Header.Values("X-Forwarded-For")
	walked := 0
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			if walked == MaxForwardedHops {
				return peer // a longer chain: the farthest proxy walked stands for the client
			}
			walked++
			hop := line
			comma := strings.LastIndexByte(line, ',')
			if comma >= 0 {
				hop, line = line[comma+1:], line[:comma]
			}
			a, ok := parseHostAddr(hop)
			if !ok {
				return peer // written by someone beyond the proxies: the last proxy stands for the client
			}
			if !p.Trusts(a) {
				return a
			}
			peer = a
			if comma < 0 {
				break
			}
		}
	}
	return peer
}

// Bucket is the key that throttles a client: its address, or for IPv6 its /64 (one
// subscriber's network: a host there can pick any of 2^64 addresses).
func (p Proxies) Bucket(r *http.Request) string {
	a := p.Addr(r)
	switch {
	case !a.IsValid():
		return "peer:" + r.RemoteAddr
	case a.Is6():
		pre, _ := a.Prefix(64)
		return pre.String()
	}
	return a.String()
}

// forwardingHeaders are the headers a proxy adds; browsers never send them.
var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip"}

// Forwarded reports whether a proxy stands between the client and the gateway, as far as the
// request tells: its peer is a trusted proxy, or it carries a forwarding header (Forwarded,
// X-Forwarded-For, -Proto, -Host, X-Real-IP). A client can add such a header, so callers may
// only make a request stricter on it (never trust what the header says).
func (p Proxies) Forwarded(r *http.Request) bool {
	if peer, ok := Peer(r); ok && p.Trusts(peer) {
		return true
	}
	for _, h := range forwardingHeaders {
		if _, ok := r.Header[h]; ok {
			return true
		}
	}
	return false
}

// maxUserAgent bounds the User-Agent kept for the record (the restore front door's log).
const maxUserAgent = 512

// Client is who the request comes from, for the record: the client's address (as Addr finds
// it; the peer's text when unreadable) and its User-Agent, without control characters and cut
// to maxUserAgent bytes.
func (p Proxies) Client(r *http.Request) auth.Client {
	addr := r.RemoteAddr
	if a := p.Addr(r); a.IsValid() {
		addr = a.String()
	}
	ua := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, r.UserAgent())
	for len(ua) > maxUserAgent {
		_, n := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-n]
	}
	return auth.Client{Addr: addr, UserAgent: ua}
}

type proxiesKey struct{}

// WithProxies records p in ctx for the handlers below the edge (ProxiesFrom).
func WithProxies(ctx context.Context, p Proxies) context.Context {
	return context.WithValue(ctx, proxiesKey{}, p)
}

// ProxiesFrom returns the proxies the edge recorded (none: nil, which trusts nobody).
func ProxiesFrom(ctx context.Context) Proxies {
	p, _ := ctx.Value(proxiesKey{}).(Proxies)
	return p
}

// Middleware records the request's client (auth.WithClient) and the proxies (WithProxies) for
// whatever runs under it: the console, which authenticates people itself, throttles its
// sign-ins per Bucket and runs their operations in process.
func (p Proxies) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithClient(WithProxies(r.Context(), p), p.Client(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
