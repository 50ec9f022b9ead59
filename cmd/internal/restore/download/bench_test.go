package download_test

import (
	"bufio"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// discardWriter is a client that reads as fast as the handler writes.
type discardWriter struct {
	h http.Header
	n int64
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

// BenchmarkHandler1GiB streams 1 GiB from a generated reader through the handler (claim,
// headers, the counting and hashing copy, the record) and reports the bytes allocated per
// download (B/op), the peak heap in use while streaming (peak-heap-B, sampled every 5 ms) and
// the process's peak RSS (VmHWM, the whole test binary). Flat memory: B/op and the peak heap stay
// in kilobytes to a few megabytes whatever the size.
//
//	go test ./cmd/internal/restore/download/ -run '^$' -bench Handler1GiB -benchtime 3x -benchmem
func BenchmarkHandler1GiB(b *testing.B) {
	const size = 1 << 30
	f := newFixture(b, storetest.SQLite(b), size, 2<<30, true)
	ctx := auth.WithPrincipal(b.Context(), auth.NewTenantAdmin("alice", "t1", nil))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
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
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		tk := f.issue(b, alice)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tk.Path, nil)
		w := &discardWriter{h: http.Header{}}
		b.StartTimer()
		f.svc.ServeHTTP(w, req)
		if w.n != size {
			b.Fatalf("streamed %d bytes, want %d", w.n, size)
		}
		if fin := f.rec.wait(b); fin.Bytes != size {
			b.Fatalf("record %+v", fin)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(peak), "peak-heap-B")
	b.ReportMetric(float64(peak)-float64(base.HeapInuse), "peak-heap-over-idle-B")
	b.ReportMetric(float64(vmHWM()), "peak-RSS-B")
}

// vmHWM is the process's peak resident set (Linux; 0 elsewhere).
func vmHWM() int64 {
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
