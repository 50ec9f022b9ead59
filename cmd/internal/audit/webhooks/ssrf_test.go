package webhooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeResolver answers from a fixed table; with rebind set, it answers the first lookup of a
// name with the first address list and every later one with the second (DNS rebinding).
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lists, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	i := min(r.calls[host], len(lists)-1)
	r.calls[host]++
	return lists[i], nil
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// A public address from the documentation-free global range; never connected to by these tests.
const publicAddr = "93.184.215.14"

func TestCheckURLRefusesEachRangeAtCreation(t *testing.T) {
	refused := []struct{ name, addr string }{
		{"loopback v4", "127.0.0.1"},
		{"loopback v4 elsewhere in 127/8", "127.45.6.7"},
		{"loopback v6", "::1"},
		{"private 10/8", "10.1.2.3"},
		{"private 172.16/12", "172.20.0.5"},
		{"private 192.168/16", "192.168.1.10"},
		{"cloud metadata", "169.254.169.254"},
		{"link-local v4", "169.254.10.20"},
		{"link-local v6", "fe80::1"},
		{"CGNAT 100.64/10", "100.100.1.1"},
		{"unique-local fc00::/7 (fd)", "fd12:3456::1"},
		{"unique-local fc00::/7 (fc)", "fc00::1"},
		{"unspecified", "0.0.0.0"},
		{"v4-mapped loopback", "::ffff:127.0.0.1"},
		{"v4-mapped metadata", "::ffff:169.254.169.254"},
	}
	g, err := NewGuard(Policy{Resolver: &fakeResolver{answers: map[string][][]netip.Addr{}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range refused {
		t.Run(tt.name+" literal", func(t *testing.T) {
			host := tt.addr
			if netip.MustParseAddr(tt.addr).Is6() {
				host = "[" + tt.addr + "]"
			}
			if _, err := g.CheckURL(context.Background(), "https://"+host+"/hook"); !errors.Is(err, ErrRefusedTarget) {
				t.Fatalf("CheckURL = %v, want ErrRefusedTarget", err)
			}
		})
		t.Run(tt.name+" by name", func(t *testing.T) {
			r := &fakeResolver{answers: map[string][][]netip.Addr{
				"hooks.example.com": {addrs(publicAddr, tt.addr)}, // one bad address is enough
			}}
			g, _ := NewGuard(Policy{Resolver: r})
			if _, err := g.CheckURL(context.Background(), "https://hooks.example.com/x"); !errors.Is(err, ErrRefusedTarget) {
				t.Fatalf("CheckURL = %v, want ErrRefusedTarget", err)
			}
		})
	}
}

func TestCheckURLAcceptsPublicAndAllowedTargets(t *testing.T) {
	r := &fakeResolver{answers: map[string][][]netip.Addr{
		"hooks.example.com":    {addrs(publicAddr, "2606:2800:21f:cb07:6820:80da:af6b:8b2c")},
		"intranet.example.com": {addrs("10.20.30.40")},
	}}
	tests := []struct {
		name   string
		policy Policy
		url    string
		ok     bool
	}{
		{"public name", Policy{}, "https://hooks.example.com/x", true},
		{"public literal on another port", Policy{}, "https://" + publicAddr + ":8443/x", true},
		{"http refused by default", Policy{}, "http://hooks.example.com/x", false},
		{"http with allowHTTP", Policy{AllowHTTP: true}, "http://hooks.example.com/x", true},
		{"other scheme", Policy{AllowHTTP: true}, "ftp://hooks.example.com/x", false},
		{"relative", Policy{}, "/x", false},
		{"credentials in URL", Policy{}, "https://u:p@hooks.example.com/x", false},
		{"unresolvable", Policy{}, "https://nowhere.example.com/x", false},
		{"private refused", Policy{}, "https://intranet.example.com/x", false},
		{"private allowed by CIDR", Policy{AllowPrivateNetworks: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}, "https://intranet.example.com/x", true},
		{"private outside the allowed CIDR", Policy{AllowPrivateNetworks: []netip.Prefix{netip.MustParsePrefix("10.21.0.0/16")}}, "https://intranet.example.com/x", false},
		{"allowing v4 does not allow v6 loopback", Policy{AllowPrivateNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, "https://[::1]/x", false},
		{"zoned address", Policy{AllowPrivateNetworks: []netip.Prefix{netip.MustParsePrefix("fe80::/10")}}, "https://[fe80::1%25eth0]/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.policy.Resolver = r
			g, err := NewGuard(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			_, err = g.CheckURL(context.Background(), tt.url)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckURL(%s) = %v, want ok=%v", tt.url, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrRefusedTarget) {
				t.Fatalf("error %v is not ErrRefusedTarget", err)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes([]string{"10.0.0.0/8", " 192.168.1.7 ", "fd00::/8", "10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "10.0.0.0/8"}
	if len(got) != len(want) {
		t.Fatalf("ParsePrefixes = %v, want %v", got, want)
	}
	for i, p := range got {
		if p.String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, p, want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "ten", ""} {
		if _, err := ParsePrefixes([]string{bad}); err == nil {
			t.Errorf("ParsePrefixes(%q) accepted", bad)
		}
	}
}

// A guard is not built on an invalid allowed prefix (the zero netip.Prefix, as a caller that
// skipped ParsePrefixes might pass).
func TestNewGuardRefusesInvalidPrefix(t *testing.T) {
	if g, err := NewGuard(Policy{AllowPrivateNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}}); err == nil {
		t.Fatalf("NewGuard accepted an invalid prefix: %v", g)
	}
}

// The dialler refuses a metadata address before connecting (Control runs before connect(2)).
func TestControlRefusesBeforeConnecting(t *testing.T) {
	g, _ := NewGuard(Policy{})
	d := net.Dialer{Control: g.Control}
	for _, a := range []string{"169.254.169.254:80", "127.0.0.1:9", "[::1]:9", "10.0.0.1:443"} {
		if _, err := d.Dial("tcp", a); !errors.Is(err, ErrRefusedTarget) {
			t.Errorf("dial %s = %v, want ErrRefusedTarget", a, err)
		}
	}
}

// DNS rebinding: the name resolves to a public address when the rule is created and to a
// refused one when the delivery connects. The delivery is refused and the receiver (really on
// loopback) never sees a request; allowing loopback makes the same delivery go through, so the
// refusal is the policy's doing.
func TestDNSRebindingRefusedAtConnectTime(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
	}))
	defer srv.Close()
	su, _ := url.Parse(srv.URL)
	hookURL := "http://rebind.example.com:" + su.Port() + "/hook"
	tests := []struct {
		name      string
		allow     []netip.Prefix
		delivered bool
	}{
		{"loopback refused", nil, false},
		{"loopback allowed", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			r := &fakeResolver{answers: map[string][][]netip.Addr{
				"rebind.example.com": {addrs(publicAddr), addrs("127.0.0.1")},
			}}
			g, err := NewGuard(Policy{AllowHTTP: true, AllowPrivateNetworks: tt.allow, Resolver: r})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.CheckURL(context.Background(), hookURL); err != nil {
				t.Fatalf("creation-time check: %v", err)
			}
			c, err := NewClient(ClientOptions{Guard: g})
			if err != nil {
				t.Fatal(err)
			}
			key, _ := NewSecret()
			out := c.Send(context.Background(), Message{ID: "msg_1", URL: hookURL, Body: []byte(`{}`), Keys: []Secret{key}})
			if tt.delivered {
				if out.Result != Delivered || hits.Load() != 1 {
					t.Fatalf("outcome %v (%v), hits %d; want delivered once", out.Result, out.Err, hits.Load())
				}
				return
			}
			if out.Result != Failed || !errors.Is(out.Err, ErrRefusedTarget) {
				t.Fatalf("outcome %v (%v), want Failed with ErrRefusedTarget", out.Result, out.Err)
			}
			if hits.Load() != 0 {
				t.Fatalf("receiver saw %d requests", hits.Load())
			}
		})
	}
}
