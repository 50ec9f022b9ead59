package vbosim

import (
	"context"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestRunLive(t *testing.T) {
	s := New(Options{Seed: 3, Sessions: 200, Orgs: 4, Now: testNow})
	before := len(s.Sessions())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.RunLive(ctx, LiveOptions{MinGap: 20 * time.Millisecond, MaxGap: 40 * time.Millisecond,
			MinItemGap: time.Millisecond, MaxItemGap: 5 * time.Millisecond, MaxItems: 4})
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	// A live session imitates a generated one, and some of those restore
	// nothing (markers only, as when an operator browses and closes
	// Explorer); wait for three stopped sessions of which one restored items.
	var stopped []upstream.RestoreSession
	for withItems := 0; len(stopped) < 3 || withItems == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d live sessions stopped, %d with items", len(stopped), withItems)
		}
		time.Sleep(20 * time.Millisecond)
		stopped, withItems = stopped[:0], 0
		for _, rs := range s.Sessions() {
			if rs.CreationTime.After(testNow) && rs.Finished() {
				stopped = append(stopped, rs)
				if len(s.Events(rs.ID)) > 2 {
					withItems++
				}
			}
		}
	}
	cancel()
	<-done
	if len(s.Sessions()) <= before {
		t.Fatal("no session added")
	}
	orgs := map[string]bool{}
	for _, o := range s.Organizations() {
		orgs[o.Name] = true
	}
	for _, rs := range stopped {
		evs := s.Events(rs.ID)
		if !orgs[rs.Organization] || rs.InitiatedBy == "" || rs.EndTime == nil || len(evs) < 2 {
			t.Fatalf("live session %+v with %d events", rs, len(evs))
		}
		first, last := evs[0], evs[len(evs)-1]
		if first.Type != upstream.EventTypeNone || last.Type != upstream.EventTypeNone || last.Title != "Restore session stopped" {
			t.Fatalf("markers: %+v ... %+v", first, last)
		}
		for _, e := range evs[1 : len(evs)-1] {
			if e.Type == upstream.EventTypeNone || e.ItemName == "" || e.EndTime == nil || e.EndTime.Before(e.StartTime) {
				t.Fatalf("item event %+v", e)
			}
		}
	}
}
