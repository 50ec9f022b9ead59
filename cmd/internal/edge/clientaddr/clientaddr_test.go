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
