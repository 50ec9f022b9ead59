package webhooks

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// resolverFunc is a Resolver answering with a function.
type resolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}

// L4: ports outside 1..65535 are refused, and a failed lookup never echoes the resolver's own
// address (a *net.DNSError's text names the DNS server it asked).
func TestCheckURLPortsAndResolverErrors(t *testing.T) {
	t.Parallel()
	const resolverAddr = "10.96.0.10:53"
	r := resolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		switch host {
		case "hooks.example.com":
			return addrs(publicAddr), nil
		case "slow.example.com":
			return nil, &net.DNSError{Err: "i/o timeout", Name: host, Server: resolverAddr, IsTimeout: true}
		case "broken.example.com":
			return nil, &net.DNSError{Err: "server misbehaving", Name: host, Server: resolverAddr, IsTemporary: true}
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, Server: resolverAddr, IsNotFound: true}
	})
	g, err := NewGuard(Policy{Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url string
		wantErr   string // "" accepts; else a substring of the error
		notFound  bool
	}{
		{name: "no port", url: "https://hooks.example.com/h"},
		{name: "port 443", url: "https://hooks.example.com:443/h"},
		{name: "port 8443", url: "https://hooks.example.com:8443/h"},
		{name: "port 65535", url: "https://hooks.example.com:65535/h"},
		{name: "port 0", url: "https://hooks.example.com:0/h", wantErr: "port 0 is not in 1..65535"},
		{name: "port 00", url: "https://hooks.example.com:00/h", wantErr: "is not in 1..65535"},
		{name: "port 65536", url: "https://hooks.example.com:65536/h", wantErr: "port 65536 is not in 1..65535"},
		{name: "port 99999", url: "https://hooks.example.com:99999/h", wantErr: "port 99999 is not in 1..65535"},
		{name: "huge port", url: "https://hooks.example.com:123456789012345678901234567890/h", wantErr: "is not in 1..65535"},
		{name: "literal address, port 0", url: "https://" + publicAddr + ":0/h", wantErr: "port 0"},
		{name: "unknown host", url: "https://nowhere.example.com/h", wantErr: "cannot resolve host nowhere.example.com: no such host", notFound: true},
		{name: "lookup timeout", url: "https://slow.example.com/h", wantErr: "cannot resolve host slow.example.com: the lookup timed out"},
		{name: "resolver failure", url: "https://broken.example.com/h", wantErr: "cannot resolve host broken.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := g.CheckURL(context.Background(), tt.url)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckURL(%s) = %v, want nil", tt.url, err)
				}
				return
			}
			if !errors.Is(err, ErrRefusedTarget) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckURL(%s) = %v, want ErrRefusedTarget with %q", tt.url, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "10.96.0.10") || strings.Contains(err.Error(), ":53") {
				t.Fatalf("the error shows the resolver's address: %v", err)
			}
			var re *ResolveError
			if tt.notFound && (!errors.As(err, &re) || !re.NotFound) {
				t.Fatalf("CheckURL(%s) = %v, want a *ResolveError with NotFound", tt.url, err)
			}
		})
	}
}
