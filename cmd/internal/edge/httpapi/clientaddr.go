package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// clientAddrs tells who a request comes from. The connection's peer is the client, unless the
// peer is a trusted reverse proxy: then X-Forwarded-For is read from the right (the entry the
// nearest proxy appended) and the first address that is not a trusted proxy is the client.
// Without trusted proxies X-Forwarded-For is never read: any client can write it.
type clientAddrs struct {
	trusted []netip.Prefix
}

func (c clientAddrs) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
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

// addr returns the client's address (invalid when even the peer address is unreadable).
func (c clientAddrs) addr(r *http.Request) netip.Addr {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok || !c.isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHostAddr(hops[i])
		if !ok {
			break // written by someone beyond the proxies: the last proxy stands for the client
		}
		if !c.isTrusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

// bucket is the key that throttles a client: its address, or for IPv6 its /64 (one
// subscriber's network: a host there can pick any of 2^64 addresses).
func (c clientAddrs) bucket(r *http.Request) string {
	a := c.addr(r)
	switch {
	case !a.IsValid():
		return "peer:" + r.RemoteAddr
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// maxUserAgent bounds the User-Agent kept for the record (the restore front door's log).
const maxUserAgent = 512

// client is who the request comes from, for the record: the client's address (as addr finds
// it; the peer's text when unreadable) and its User-Agent, without control characters and cut
// to maxUserAgent bytes.
func (c clientAddrs) client(r *http.Request) auth.Client {
	addr := r.RemoteAddr
	if a := c.addr(r); a.IsValid() {
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

// middleware records the request's client (auth.WithClient) for whatever runs under it: the
// console, which authenticates people itself and runs their operations in process.
func (c clientAddrs) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), c.client(r))))
	})
}
