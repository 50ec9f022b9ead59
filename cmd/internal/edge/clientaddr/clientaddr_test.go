package clientaddr_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/clientaddr"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

var trusted = clientaddr.Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

func request(peer string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://gw.example/console/", nil)
	r.RemoteAddr = peer
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func TestAddrAndBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		proxies    clientaddr.Proxies
		r          *http.Request
		addr, want string
	}{
		{"direct IPv4", trusted, request("192.0.2.1:5"), "192.0.2.1", "192.0.2.1"},
		{"direct IPv6 counts per /64", trusted, request("[2001:db8:1:2::7]:5"), "2001:db8:1:2::7", "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 is IPv4", trusted, request("[::ffff:192.0.2.1]:5"), "192.0.2.1", "192.0.2.1"},
		{"untrusted peer: X-Forwarded-For ignored", trusted, request("192.0.2.1:5", "X-Forwarded-For", "198.51.100.1"), "192.0.2.1", "192.0.2.1"},
		{"no proxies trusted: X-Forwarded-For ignored", nil, request("10.0.0.1:5", "X-Forwarded-For", "198.51.100.1"), "10.0.0.1", "10.0.0.1"},
		{"trusted proxy names the client", trusted, request("10.0.0.1:5", "X-Forwarded-For", "198.51.100.1"), "198.51.100.1", "198.51.100.1"},
		{"read from the right past trusted hops", trusted,
			request("10.0.0.1:5", "X-Forwarded-For", "203.0.113.66, 198.51.100.1", "X-Forwarded-For", "10.0.0.2"), "198.51.100.1", "198.51.100.1"},
		{"garbage beyond the proxies: the last proxy stands for the client", trusted,
			request("10.0.0.1:5", "X-Forwarded-For", "nonsense, 10.0.0.2"), "10.0.0.2", "10.0.0.2"},
		{"forwarded IPv6 client per /64", trusted, request("[fd00::1]:5", "X-Forwarded-For", "2001:db8:9:9::1"), "2001:db8:9:9::1", "2001:db8:9:9::/64"},
		{"unreadable peer", trusted, request("pipe"), "invalid IP", "peer:pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.proxies.Addr(tt.r).String(); got != tt.addr {
				t.Errorf("Addr = %s, want %s", got, tt.addr)
			}
			if got := tt.proxies.Bucket(tt.r); got != tt.want {
				t.Errorf("Bucket = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestForwarded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"a browser on loopback", request("127.0.0.1:5"), false},
		{"a trusted proxy without headers", request("10.0.0.1:5"), true},
		{"X-Forwarded-Proto from anyone", request("127.0.0.1:5", "X-Forwarded-Proto", "https"), true},
		{"X-Forwarded-For from anyone", request("127.0.0.1:5", "X-Forwarded-For", "192.0.2.1"), true},
		{"Forwarded (RFC 7239)", request("127.0.0.1:5", "Forwarded", "for=192.0.2.1;proto=https"), true},
		{"X-Real-IP", request("127.0.0.1:5", "X-Real-Ip", "192.0.2.1"), true},
	}
	for _, tt := range tests {
		if got := trusted.Forwarded(tt.r); got != tt.want {
			t.Errorf("%s: Forwarded = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The middleware hands the handlers below it the client and the proxies, so they judge the
// request as the edge does; without it nobody is trusted.
func TestMiddlewareRecordsClientAndProxies(t *testing.T) {
	t.Parallel()
	if got := clientaddr.ProxiesFrom(context.Background()); got != nil {
		t.Fatalf("ProxiesFrom(no middleware) = %v, want none", got)
	}
	var client auth.Client
	var bucket string
	h := trusted.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, bucket = auth.ClientFrom(r.Context()), clientaddr.ProxiesFrom(r.Context()).Bucket(r)
	}))
	r := request("10.0.0.1:5", "X-Forwarded-For", "198.51.100.1", "User-Agent", "ua\x00/"+strings.Repeat("é", 400))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if client.Addr != "198.51.100.1" || bucket != "198.51.100.1" {
		t.Errorf("client %q, bucket %q: want the forwarded client", client.Addr, bucket)
	}
	if len(client.UserAgent) > 512 || strings.ContainsRune(client.UserAgent, 0) || !strings.HasPrefix(client.UserAgent, "ua/é") {
		t.Errorf("user agent %q (%d bytes): want control characters out, at most 512 bytes", client.UserAgent, len(client.UserAgent))
	}
}

// X-Forwarded-For through a trusted proxy is walked from the right over at most
// MaxForwardedHops entries: a client within that many trusted hops is found, beyond it the
// farthest proxy walked stands for the client (as for an unreadable entry), and a 1 MiB
// header (the server's default header limit) costs the work of MaxForwardedHops entries, not
// of every entry it holds, whether on one line or on many.
func TestForwardedForBounded(t *testing.T) { // not parallel: testing.AllocsPerRun
	proxies := func(n int) []string { // n trusted hops, 10.0.0.n nearest the gateway last
		hops := make([]string, n)
		for i := range hops {
			hops[i] = netip.AddrFrom4([4]byte{10, 0, byte((n - i) >> 8), byte(n - i)}).String()
		}
		return hops
	}
	within := strings.Join(append([]string{"198.51.100.1"}, proxies(clientaddr.MaxForwardedHops-1)...), ", ")
	beyond := strings.Join(append([]string{"198.51.100.1"}, proxies(clientaddr.MaxForwardedHops)...), ", ")
	for _, tt := range []struct {
		name, xff, want string
	}{
		{"client within the bound", within, "198.51.100.1"},
		{"client beyond the bound: the farthest proxy walked", beyond, netip.AddrFrom4([4]byte{10, 0, 0, byte(clientaddr.MaxForwardedHops)}).String()},
	} {
		if got := trusted.Addr(request("10.0.0.1:5", "X-Forwarded-For", tt.xff)).String(); got != tt.want {
			t.Errorf("%s: Addr = %s, want %s", tt.name, got, tt.want)
		}
	}

	const mib = 1 << 20
	entry := "10.0.0.7, "
	oneLine := strings.Repeat(entry, mib/len(entry))
	manyLines := request("10.0.0.1:5")
	for range mib / len(entry) {
		manyLines.Header.Add("X-Forwarded-For", "10.0.0.7")
	}
	for _, tt := range []struct {
		name string
		r    *http.Request
	}{
		{"1 MiB on one line", request("10.0.0.1:5", "X-Forwarded-For", oneLine+"10.0.0.7")},
		{"1 MiB over many lines", manyLines},
	} {
		if got := trusted.Addr(tt.r); got != netip.MustParseAddr("10.0.0.7") {
			t.Errorf("%s: Addr = %s, want the farthest proxy walked, 10.0.0.7", tt.name, got)
		}
		// Each entry walked may allocate a few times (parsing); every entry of the header would
		// be some 100,000.
		if allocs := testing.AllocsPerRun(5, func() { trusted.Addr(tt.r) }); allocs > 4*clientaddr.MaxForwardedHops {
			t.Errorf("%s: %.0f allocations per Addr, want at most %d (4 per hop walked)", tt.name, allocs, 4*clientaddr.MaxForwardedHops)
		}
	}
}
