package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// BenchmarkClientRestoreSessionsPage: one call for a page of 51 restore sessions (what the
// gateway asks for a 50-row page), served from testdata as the simulator wrote it: the client's
// side of the call (request, response, bounded decoding).
func BenchmarkClientRestoreSessionsPage(b *testing.B) {
	page, err := os.ReadFile("testdata/restore_sessions_page51.json")
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v6/token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"access_token":"a","refresh_token":"r","token_type":"bearer","expires_in":3600}`)
	})
	mux.HandleFunc("GET /v6/RestoreSessions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := NewClient(srv.URL, ClientOptions{Name: "bench", Username: "u", Password: "p"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opts := RestoreSessionListOptions{ListOptions: ListOptions{Limit: 51}}
	b.ReportAllocs()
	for b.Loop() {
		p, _, err := c.RestoreSessions(ctx, opts)
		if err != nil || len(p.Results) != 51 {
			b.Fatalf("%d sessions, %v", len(p.Results), err)
		}
	}
}
