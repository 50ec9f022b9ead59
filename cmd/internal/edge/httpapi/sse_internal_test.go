package httpapi

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// finishedResponse is a response that net/http has finished: any use after finish fails the
// test (the real one panics: its bufio.Writer has been returned to the pool).
type finishedResponse struct {
	t        *testing.T
	mu       sync.Mutex
	finished bool
	header   http.Header
	writes   int
	flushes  int
	deadline time.Time
}

func (f *finishedResponse) use(what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished {
		f.t.Errorf("%s after the handler returned", what)
	}
}

func (f *finishedResponse) finish() {
	f.mu.Lock()
	f.finished = true
	f.mu.Unlock()
}

func (f *finishedResponse) Header() http.Header { f.use("Header"); return f.header }
func (f *finishedResponse) WriteHeader(int)     { f.use("WriteHeader") }
func (f *finishedResponse) Write(p []byte) (int, error) {
	f.use("Write")
	f.mu.Lock()
	f.writes++
	f.mu.Unlock()
	return len(p), nil
}

func (f *finishedResponse) FlushError() error {
	f.use("Flush")
	f.mu.Lock()
	f.flushes++
	f.mu.Unlock()
	return nil
}

func (f *finishedResponse) SetWriteDeadline(d time.Time) error {
	f.use("SetWriteDeadline")
	f.mu.Lock()
	f.deadline = d
	f.mu.Unlock()
	return nil
}

// TestStreamWriterInertAfterClose: goroutines keep writing and flushing (gqlgen's keep-alive
// does) while the handler returns; once close has returned nothing reaches the response, and
// writes fail with errStreamClosed.
func TestStreamWriterInertAfterClose(t *testing.T) {
	t.Parallel()
	for round := range 20 {
		f := &finishedResponse{t: t, header: http.Header{}}
		sw := newStreamWriter(f, time.Minute)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = sw.Write([]byte(": ping\n\n"))
					sw.Flush()
				}
			})
		}
		time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
		sw.close()
		f.finish() // net/http finishes the response once the handler has returned
		time.Sleep(200 * time.Microsecond)
		if _, err := sw.Write([]byte("x")); !errors.Is(err, errStreamClosed) {
			t.Fatalf("Write after close: %v, want errStreamClosed", err)
		}
		sw.Flush()
		sw.WriteHeader(http.StatusOK)
		sw.Header().Set("X", "y")
		close(stop)
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

// TestStreamWriterDeadlines: each message (writes up to the flush that ends it) gets one write
// deadline; a failed write makes every later write fail without reaching the response.
func TestStreamWriterDeadlines(t *testing.T) {
	t.Parallel()
	f := &finishedResponse{t: t, header: http.Header{}}
	sw := newStreamWriter(f, time.Minute)
	before := time.Now()
	_, _ = sw.Write([]byte("event: next\n"))
	first := f.deadline
	if first.Before(before.Add(time.Minute)) || first.After(time.Now().Add(time.Minute)) {
		t.Fatalf("deadline %v, want a minute from the write", first)
	}
	time.Sleep(2 * time.Millisecond)
	_, _ = sw.Write([]byte("data: {}\n\n"))
	if !f.deadline.Equal(first) {
		t.Fatal("a second write of the same message moved its deadline")
	}
	sw.Flush()
	_, _ = sw.Write([]byte(": ping\n\n"))
	if !f.deadline.After(first) {
		t.Fatal("the next message kept the previous one's deadline")
	}

	failing := &failingResponse{}
	sw = newStreamWriter(failing, time.Minute)
	if _, err := sw.Write([]byte("a")); err == nil {
		t.Fatal("the failing write succeeded")
	}
	_, err := sw.Write([]byte("b"))
	sw.Flush()
	if err == nil || failing.calls != 1 {
		t.Fatalf("after a failed write: err %v, %d calls reached the response, want an error and 1", err, failing.calls)
	}
}

type failingResponse struct{ calls int }

func (*failingResponse) Header() http.Header { return http.Header{} }
func (*failingResponse) WriteHeader(int)     {}
func (f *failingResponse) Write([]byte) (int, error) {
	f.calls++
	return 0, errors.New("i/o timeout")
}
func (f *failingResponse) FlushError() error { f.calls++; return errors.New("i/o timeout") }
