package watch

import (
	"cmp"
	"context"
	"hash/fnv"
	"slices"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// Spreading the leases over the replicas (issue 22 item 4).
//
// Every replica writes a heartbeat row in the store once per interval (store.Heartbeat) and
// reads back the replicas seen within the lease TTL: the live set, the same for all of them.
// From it each replica computes the same assignment of servers to replicas: servers in name
// order, each to the live replica with the highest rendezvous score (FNV-1a of holder and
// server) that holds fewer than ceil(S/N)+1 servers. A replica takes the leases of the servers
// assigned to it (store.AcquireLease) and hands over, at its next attempt, a lease it holds
// for a server assigned to another live replica (store.ReleaseLease); that replica takes it on
// its next attempt. When the set changes (a replica starts, stops, or its heartbeat expires),
// only the servers whose assignee changed move (rendezvous hashing), and the cap keeps each
// replica within one of S/N.
//
// Views can differ for a moment (two heartbeats apart), so the assignment only decides who
// tries: a lease free for longer than one interval is taken by any replica
// (store.AcquireStaleLease), and the lease's epoch still fences every write, so there are
// never two pollers for one server.

// assignment is the servers each live replica should poll; nil before the first heartbeat
// (or while the store cannot be reached): every poller then tries its lease as before.
type assignment map[string]string // server -> holder

// assign computes the assignment of servers to live replicas.
func assign(servers, live []string) assignment {
	if len(live) == 0 {
		return nil
	}
	servers = slices.Sorted(slices.Values(servers))
	capacity := (len(servers)+len(live)-1)/len(live) + 1
	held := make(map[string]int, len(live))
	out := make(assignment, len(servers))
	ranked := make([]string, len(live))
	for _, srv := range servers {
		copy(ranked, live)
		slices.SortFunc(ranked, func(a, b string) int {
			sa, sb := score(a, srv), score(b, srv)
			switch {
			case sa > sb:
				return -1
			case sa < sb:
				return 1
			}
			return cmp.Compare(a, b)
		})
		for _, h := range ranked {
			if held[h] < capacity {
				out[srv] = h
				held[h]++
				break
			}
		}
	}
	return out
}

// score is the rendezvous weight of holder for server.
func score(holder, server string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(holder))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(server))
	// FNV's low bits mix poorly for similar inputs: finish with a 64-bit mixer (splitmix64).
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// heartbeat refreshes this replica's liveness and the assignment every interval (Run beats
// once before the pollers start) until ctx ends, then leaves the live set.
func (w *Watcher) heartbeat(ctx context.Context) {
	names := w.serverNames()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := w.o.Store.Leave(rctx, w.o.Holder); err != nil {
				w.o.Logger.Warn("watch: could not leave the replica set", "err", err)
			}
			cancel()
			return
		case <-time.After(w.o.Interval):
			w.beat(ctx, names)
		}
	}
}

func (w *Watcher) beat(ctx context.Context, names []string) {
	live, err := w.o.Store.Heartbeat(ctx, w.o.Holder, w.ttl)
	if err != nil {
		if ctx.Err() == nil {
			w.o.Logger.Warn("watch: replica heartbeat failed; polling by lease alone", "err", err)
		}
		w.setAssignment(nil)
		return
	}
	if !slices.Contains(live, w.o.Holder) {
		live = append(live, w.o.Holder)
	}
	w.setAssignment(assign(names, live))
}

func (w *Watcher) setAssignment(a assignment) {
	w.amu.Lock()
	w.assigned = a
	w.amu.Unlock()
}

// assignee is the replica that should poll server ("" when unknown: anyone may).
func (w *Watcher) assignee(server string) string {
	w.amu.Lock()
	defer w.amu.Unlock()
	return w.assigned[server]
}

// acquire takes or renews the server's lease when this replica is its assignee (or nobody is
// known), hands a held lease over when another live replica is, and otherwise takes it only
// when it has been free for longer than an interval (the assignee does not take it).
func (p *poller) acquire(ctx context.Context, held *store.Lease) (store.Lease, bool, error) {
	st, me := p.w.o.Store, p.w.o.Holder
	who := p.w.assignee(p.name)
	switch {
	case who == "" || who == me:
		return st.AcquireLease(ctx, p.name, me, p.w.ttl)
	case held != nil:
		if err := st.ReleaseLease(ctx, *held); err != nil {
			return *held, true, err
		}
		p.log.Info("watch: lease handed over to the replica this server is assigned to", "to", who)
		return store.Lease{}, false, nil
	}
	return st.AcquireStaleLease(ctx, p.name, me, p.w.ttl, p.w.o.Interval)
}

func (w *Watcher) serverNames() []string {
	names := make([]string, len(w.pollers))
	for i, p := range w.pollers {
		names[i] = p.name
	}
	return names
}

// Stats returns server's poller counters in this process.
func (w *Watcher) Stats(server string) (Stats, bool) {
	p, ok := w.byName[server]
	if !ok {
		return Stats{}, false
	}
	return p.Stats(), true
}
