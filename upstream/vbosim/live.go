package vbosim

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// LiveOptions make a simulator behave like a busy server: it starts, runs and ends restore
// sessions on its own (RunLive). Opt-in: without RunLive the data stays deterministic.
type LiveOptions struct {
	// MinGap and MaxGap bound the time between two new sessions (default 20 s and 60 s). The
	// first session comes after a quarter of that, so activity shows within a minute.
	MinGap, MaxGap time.Duration
	// MinItemGap and MaxItemGap bound the time between two items of a session (default 2 s
	// and 8 s).
	MinItemGap, MaxItemGap time.Duration
	// MaxItems caps the items of a live session (default 8).
	MaxItems int
}

func (o LiveOptions) withDefaults() LiveOptions {
	if o.MinGap <= 0 {
		o.MinGap = 20 * time.Second
	}
	if o.MaxGap < o.MinGap {
		o.MaxGap = max(o.MinGap, 60*time.Second)
	}
	if o.MinItemGap <= 0 {
		o.MinItemGap = 2 * time.Second
	}
	if o.MaxItemGap < o.MinItemGap {
		o.MaxItemGap = max(o.MinItemGap, 8*time.Second)
	}
	if o.MaxItems <= 0 {
		o.MaxItems = 8
	}
	return o
}

// liveModel is a session to play: modelled on a generated one (organisation, explorer,
// operator, client host, reason, items and result).
type liveModel struct {
	session upstream.RestoreSession
	items   []upstream.RestoreSessionEvent
	result  upstream.RestoreSessionResult
}

// RunLive starts a new restore session every MinGap..MaxGap until ctx ends. Each one is
// added as Working, receives its items MinItemGap..MaxItemGap apart (AddEvent), then stops
// with its model's result (StopSession). RunLive returns once ctx has ended and every session
// it started has stopped or been abandoned.
func (s *Server) RunLive(ctx context.Context, o LiveOptions) {
	o = o.withDefaults()
	r := rand.New(rand.NewPCG(s.seed^0x11fe, uint64(time.Now().UnixNano())))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo)+1)) }
	var wg sync.WaitGroup
	defer wg.Wait()
	wait := between(o.MinGap, o.MaxGap) / 4
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = between(o.MinGap, o.MaxGap)
		m, ok := s.liveModel(r, o.MaxItems)
		if !ok {
			continue
		}
		gaps := make([]time.Duration, len(m.items)+1)
		for i := range gaps {
			gaps[i] = between(o.MinItemGap, o.MaxItemGap)
		}
		wg.Go(func() { s.play(ctx, m, gaps) })
	}
}

// liveModel picks a generated session to imitate.
func (s *Server) liveModel(r *rand.Rand, maxItems int) (liveModel, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.order) == 0 {
		return liveModel{}, false
	}
	i := s.order[r.IntN(len(s.order))]
	if s.all[i].added {
		return liveModel{}, false
	}
	gen := s.genSession(i)
	m := liveModel{result: gen.Result, session: upstream.RestoreSession{Name: gen.Name, Organization: gen.Organization,
		Type: gen.Type, InitiatedBy: gen.InitiatedBy, ClientHost: gen.ClientHost, Reason: gen.Reason, ScopeName: gen.ScopeName}}
	if gen.State != upstream.SessionStateStopped {
		m.result = upstream.SessionResultSuccess
	}
	ec := s.eventContext(i)
	for k := 1; k < ec.n && len(m.items) < maxItems; k++ {
		ev := s.genEvent(&ec, k)
		if ev.Type == upstream.EventTypeNone {
			continue
		}
		if ev.Status == upstream.EventStatusRunning {
			ev.Status = upstream.EventStatusSuccess
		}
		m.items = append(m.items, upstream.RestoreSessionEvent{Type: ev.Type, Status: ev.Status, Title: ev.Title,
			Message: ev.Message, ItemName: ev.ItemName, ItemType: ev.ItemType, ItemSizeBytes: ev.ItemSizeBytes,
			Source: ev.Source, Target: ev.Target})
	}
	return m, true
}

// play runs one live session.
func (s *Server) play(ctx context.Context, m liveModel, gaps []time.Duration) {
	added := s.AddSession(m.session)
	for i, ev := range m.items {
		select {
		case <-ctx.Done():
			return
		case <-time.After(gaps[i]):
		}
		end := s.clock().UTC().Truncate(100)
		ev.StartTime, ev.EndTime = end.Add(-gaps[i]/3).Truncate(100), &end
		if _, err := s.AddEvent(added.ID, ev); err != nil {
			return // stopped meanwhile
		}
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(gaps[len(gaps)-1]):
	}
	_ = s.StopSession(added.ID, m.result)
}
