package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// hashWriter is a client that reads a download to the end, hashing and counting what it gets.
type hashWriter struct {
	h    http.Header
	code int
	n    int64
	sum  hash.Hash
}

func (w *hashWriter) Header() http.Header { return w.h }
func (w *hashWriter) WriteHeader(c int)   { w.code = c }
func (w *hashWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += int64(len(p))
	return w.sum.Write(p)
}

// BenchmarkRestoreDownload1GiB: a restore operator downloads a 1 GiB message through the whole
// gateway (downloadRestoreItems, then its one-time /download/ link) from the simulated VBO
// server, which generates the bytes as it sends them. Each op checks the SHA-256 the client got
// against the simulator's bytes; it reports the peak heap in use while
// streaming (sampled every 5 ms) above the heap before the first op: flat memory means it stays
// in megabytes while 1 GiB passes.
//
//	go test ./cmd/internal/e2e/ -run '^$' -bench RestoreDownload1GiB -benchtime 2x -benchmem
func BenchmarkRestoreDownload1GiB(b *testing.B) {
	const size = 1 << 30
	fleet, err := demo.Start(demo.Options{Orgs: 2, Sessions: 5, Now: time.Now().Add(-time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fleet.Close)
	cfg := fleet.Config
	cfg.Watch = config.Watch{Enabled: true, Interval: time.Minute, Backfill: time.Hour}
	cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(b.TempDir(), "gw.db")}
	cfg.Restore = config.Restore{Enabled: true, IdleTimeout: time.Hour, MaxOpenSessionsPerPerson: 10, StepsPerMinute: 6000}
	cfg.Restore.MaxDownloadBytes = 2 << 30
	creds := config.M365Credentials{UserName: "restore@demo.test"}
	for name, sim := range fleet.Sims {
		for _, o := range sim.Organizations() {
			cfg.Restore.Organizations = append(cfg.Restore.Organizations, config.RestoreOrg{Server: name, ID: o.ID,
				Credentials: creds.WithSecrets("", "", "bench-secret")})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	gw, err := runGateway(b, ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	c := client.New(gw.Handler, client.Path("/graphql"))
	key := demo.TenantOperatorKey(1)
	as := client.AddHeader("Authorization", "Bearer "+key)

	var orgs struct {
		Viewer struct {
			Organizations []struct {
				ID     string
				Server struct{ Name string }
			}
		}
	}
	c.MustPost(`{ viewer { organizations { id server { name } } } }`, &orgs, as)
	if len(orgs.Viewer.Organizations) == 0 {
		b.Fatal("tenant 1 has no organisation")
	}
	org := orgs.Viewer.Organizations[0]
	var started struct{ StartRestoreSession struct{ ID string } }
	c.MustPost(`mutation($org: ID!) { startRestoreSession(input: {organizationId: $org, type: EXCHANGE, reason: "bench"}) { id } }`,
		&started, as, client.Var("org", org.ID))
	sid := started.StartRestoreSession.ID
	var browsed struct {
		RestoreSession struct {
			Browse struct {
				Mailboxes struct {
					Edges []struct {
						Node struct {
							Folders struct {
								Edges []struct {
									Node struct {
										Items struct {
											Edges []struct{ Node struct{ ID string } }
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	c.MustPost(`query($id: ID!) { restoreSession(id: $id, live: true) { browse { mailboxes(first: 1) { edges { node {
		folders: children(kind: MAIL_FOLDER, first: 1) { edges { node { items: children(kind: MAIL_ITEM, first: 1) { edges { node { id } } } } } } } } } } } }`,
		&browsed, as, client.Var("id", sid))
	mb := browsed.RestoreSession.Browse.Mailboxes.Edges
	if len(mb) == 0 || len(mb[0].Node.Folders.Edges) == 0 || len(mb[0].Node.Folders.Edges[0].Node.Items.Edges) == 0 {
		b.Fatalf("nothing to download in %+v", browsed)
	}
	item := mb[0].Node.Folders.Edges[0].Node.Items.Edges[0].Node.ID
	sim := fleet.Sims[org.Server.Name]

	var want string
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	b.SetBytes(size)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		n++
		var dl struct {
			R struct {
				URL    string
				Action struct{ Items []struct{ UpstreamID string } }
			}
		}
		c.MustPost(`mutation($in: RestoreItemsInput!) { r: downloadRestoreItems(input: $in) { url action { items { upstreamId } } } }`,
			&dl, as, client.Var("in", map[string]any{"sessionId": sid, "itemIds": []string{item}, "idempotencyKey": fmt.Sprint("bench-", n)}))
		upstreamID := dl.R.Action.Items[0].UpstreamID
		sim.SetItemSize(upstreamID, size)
		if want == "" {
			h := sha256.New()
			if _, err := io.Copy(h, vbosim.ItemBody(upstreamID, raMagicMSG, size)); err != nil {
				b.Fatal(err)
			}
			want = hex.EncodeToString(h.Sum(nil))
		}
		req := httptest.NewRequest(http.MethodGet, dl.R.URL, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		w := &hashWriter{h: http.Header{}, sum: sha256.New()}
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
			}
		}()
		b.StartTimer()
		gw.Handler.ServeHTTP(w, req)
		b.StopTimer()
		close(stop)
		<-done
		if got := hex.EncodeToString(w.sum.Sum(nil)); w.code != http.StatusOK || w.n != size || got != want {
			b.Fatalf("download: status %d, %d bytes, sha256 %s; want 200, %d bytes, the simulator's %s", w.code, w.n, got, size, want)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric((float64(peak)-float64(base.HeapInuse))/(1<<20), "peak-heap-over-idle-MiB")
}
