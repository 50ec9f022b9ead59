package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// seenPaths is a wrapping transport that records the path of every attempt it passes on.
type seenPaths struct {
	base  http.RoundTripper
	mu    sync.Mutex
	paths []string
}

func (s *seenPaths) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.paths = append(s.paths, r.URL.Path)
	s.mu.Unlock()
	return s.base.RoundTrip(r)
}

// TestWrapTransport: ClientOptions.WrapTransport sees every attempt, the token call included,
// whether the client builds its HTTP client or is given one (with no transport of its own).
func TestWrapTransport(t *testing.T) {
	mux := tokenMux()
	mux.HandleFunc("GET /v6/RestoreSessions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"offset":0,"limit":30,"results":[]}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		name string
		hc   *http.Client
	}{
		{name: "built"},
		{name: "given, default transport", hc: &http.Client{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen *seenPaths
			c, err := NewClient(srv.URL, ClientOptions{Name: "wrap", Username: "u", Password: "p", HTTPClient: tc.hc,
				WrapTransport: func(rt http.RoundTripper) http.RoundTripper { seen = &seenPaths{base: rt}; return seen }})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.RestoreSessions(context.Background(), RestoreSessionListOptions{}); err != nil {
				t.Fatal(err)
			}
			if seen == nil {
				t.Fatal("WrapTransport not called")
			}
			if want := []string{"/v6/token", "/v6/RestoreSessions"}; !slices.Equal(seen.paths, want) {
				t.Fatalf("the wrapper saw %v, want %v", seen.paths, want)
			}
		})
	}
}

// tokenMux is a test server's mux whose token endpoint grants every call a token, for tests of
// the client's transport rather than of its authentication.
func tokenMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v6/token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"access_token":"a","refresh_token":"r","token_type":"bearer","expires_in":3600}`)
	})
	return mux
}
