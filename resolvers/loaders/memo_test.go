package loaders

import (
	"context"
	"errors"
	"testing"
)

func TestMemo(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		forgetErr bool
		err       error
		wantCalls int // after two calls of one key
	}{
		{"success kept", false, nil, 1},
		{"success kept when forgetting errors", true, nil, 1},
		{"failure kept", false, errBoom, 1},
		{"failure forgotten", true, errBoom, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m memo[string, int]
			calls := 0
			fn := func() (int, error) {
				calls++
				return 7, tt.err
			}
			for range 2 {
				v, err := m.do(context.Background(), "k", tt.forgetErr, fn)
				if v != 7 || !errors.Is(err, tt.err) {
					t.Fatalf("do = %d, %v; want 7, %v", v, err, tt.err)
				}
			}
			if calls != tt.wantCalls {
				t.Errorf("fn called %d times, want %d", calls, tt.wantCalls)
			}
			if _, err := m.do(context.Background(), "other", tt.forgetErr, fn); !errors.Is(err, tt.err) || calls != tt.wantCalls+1 {
				t.Errorf("another key: err %v, calls %d; want its own call", err, calls)
			}
		})
	}
}

// A caller waiting for another's call gives up when its context ends; the call's result is
// still shared with later callers.
func TestMemoWaiterCancelled(t *testing.T) {
	var m memo[string, int]
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan int)
	go func() {
		v, _ := m.do(context.Background(), "k", false, func() (int, error) {
			close(started)
			<-release
			return 1, nil
		})
		first <- v
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.do(ctx, "k", false, func() (int, error) { t.Error("second call ran"); return 2, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter err = %v, want context.Canceled", err)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("first = %d, want 1", v)
	}
	if v, err := m.do(context.Background(), "k", false, func() (int, error) { return 3, nil }); v != 1 || err != nil {
		t.Fatalf("later caller = %d, %v; want the shared 1", v, err)
	}
}

// OrgJoin indexes a server's organisations once per request; an unknown server is an error.
func TestOrgJoin(t *testing.T) {
	f := newFake(1, 3, 0)
	b := newBackend(t, f, Config{ListingTTL: -1})
	l := b.New()
	for range 2 {
		j, err := l.OrgJoin(context.Background(), "srv")
		if err != nil {
			t.Fatal(err)
		}
		if o, ambiguous := j.Lookup("org1"); o == nil || o.ID != "org-1" || ambiguous {
			t.Fatalf("Lookup(org1) = %v, %v", o, ambiguous)
		}
	}
	if n := f.n("orgs"); n != 1 {
		t.Errorf("%d organisation calls, want 1", n)
	}
	if _, err := l.OrgJoin(context.Background(), "nowhere"); !errors.Is(err, ErrUnknownServer) {
		t.Errorf("unknown server: err = %v, want ErrUnknownServer", err)
	}
}

// A panic in the call is its failure: the caller and the callers sharing it get an ErrPanic
// (not a zero value and no error); with forgetErr a later caller calls again.
func TestMemoPanic(t *testing.T) {
	for _, tt := range []struct {
		name      string
		forgetErr bool
		wantLater error // what a caller after the panic gets
	}{
		{"kept", false, ErrPanic},
		{"forgotten", true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m memo[string, *int]
			started, release := make(chan struct{}), make(chan struct{})
			firstErr := make(chan error)
			go func() {
				_, err := m.do(context.Background(), "k", tt.forgetErr, func() (*int, error) {
					close(started)
					<-release
					panic("boom")
				})
				firstErr <- err
			}()
			<-started
			waiterErr := make(chan error, 1)
			if !tt.forgetErr {
				// Whether it waits for the call or comes after it, it shares the kept failure.
				go func() {
					v, err := m.do(context.Background(), "k", false, func() (*int, error) {
						t.Error("a second call ran")
						return nil, nil
					})
					if v != nil {
						t.Errorf("the waiter got %v", v)
					}
					waiterErr <- err
				}()
			}
			close(release)
			if err := <-firstErr; !errors.Is(err, ErrPanic) {
				t.Errorf("caller: err = %v, want ErrPanic", err)
			}
			if !tt.forgetErr {
				if err := <-waiterErr; !errors.Is(err, ErrPanic) {
					t.Errorf("waiter: err = %v, want ErrPanic", err)
				}
			}
			seven := 7
			v, err := m.do(context.Background(), "k", tt.forgetErr, func() (*int, error) { return &seven, nil })
			if !errors.Is(err, tt.wantLater) || (tt.wantLater == nil) != (v != nil) {
				t.Errorf("later caller: %v, %v; want err %v", v, err, tt.wantLater)
			}
		})
	}
}
