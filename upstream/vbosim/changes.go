package vbosim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The v8 change feed, GET /v8/Events?from=<changeToken|latest>&limit=&timeoutSeconds=
// (operation Events_Get, answer Events_GetResponse). Every change to a restore session is one
// event with a sequence number: RestoreSessionUpdate {id, eTag, organizationId} when a session
// is added (AddSession, RunLive), gets an event (AddEvent) or stops (StopSession), and
// RestoreSessionDelete {id} when it is removed (DeleteSession). A change token is the
// sequence number the reader has seen, sealed with the server's key: opaque to clients, and
// unknown to another server or a restarted one. The feed keeps the last History events; a
// token older than that, sealed by another key or garbled is answered 400 with errorCode
// OutdatedChangeToken (the status is an assumption: the OpenAPI document gives every error
// the one RESTExceptionInfo body and no status per errorCode). The simulator reports only
// restore session events: VBO's other kinds (jobs, restore points, ...) never appear.

// ChangeFeedOptions configure the v8 change feed. The zero value is usable.
type ChangeFeedOptions struct {
	// History is how many changes the feed keeps (default 1024): a reader whose token is
	// older than the oldest kept gets OutdatedChangeToken.
	History int
	// MaxWait caps the wait a reader asks for with timeoutSeconds (default 60 s).
	MaxWait time.Duration
	// Second is how long one timeoutSeconds lasts (default 1 s): tests shorten it to keep
	// idle long-polls fast.
	Second time.Duration
	// OmitOrganizationID leaves organizationId out of update events: the OpenAPI's
	// RESTRestoreSessionUpdateEvent lists only {eventType, id, eTag}, while the RESTEvent it
	// specialises has the field, so readers must cope with both.
	OmitOrganizationID bool
}

const (
	defaultChangeHistory = 1024
	defaultChangeMaxWait = 60 * time.Second
	// changeTokenMAC is how many bytes of HMAC seal a change token.
	changeTokenMAC = 12
)

func (o ChangeFeedOptions) withDefaults() ChangeFeedOptions {
	if o.History <= 0 {
		o.History = defaultChangeHistory
	}
	if o.MaxWait <= 0 {
		o.MaxWait = defaultChangeMaxWait
	}
	if o.Second <= 0 {
		o.Second = time.Second
	}
	return o
}

// changeFeed is a server's bounded history of changes. Writers hold Server.mu and then
// changeFeed.mu; readers take changeFeed.mu alone.
type changeFeed struct {
	opts ChangeFeedOptions
	key  []byte

	mu   sync.Mutex
	last uint64                 // sequence number of the newest change (0: none yet)
	ring []upstream.ChangeEvent // change k is ring[k % len(ring)] while last-len(ring) < k <= last
	wake chan struct{}          // closed and replaced on every change

	waitHook func() // tests: called when a reader starts waiting
}

// newChangeFeed returns the feed of a v8 server, nil for the others (they have no /Events).
func newChangeFeed(ver string, key []byte, o ChangeFeedOptions) *changeFeed {
	if ver != "v8" {
		return nil
	}
	o = o.withDefaults()
	return &changeFeed{opts: o, key: key, ring: make([]upstream.ChangeEvent, o.History), wake: make(chan struct{})}
}

// record appends one change and wakes the waiting readers.
func (f *changeFeed) record(ev upstream.ChangeEvent) {
	f.mu.Lock()
	f.last++
	f.ring[f.last%uint64(len(f.ring))] = ev
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
}

// token seals sequence number seq.
func (f *changeFeed) token(seq uint64) string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+changeTokenMAC), seq)
	return b64.EncodeToString(append(b, f.mac(b)...))
}

func (f *changeFeed) mac(b []byte) []byte {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte("vbo-sim change token\x00"))
	m.Write(b)
	return m.Sum(nil)[:changeTokenMAC]
}

// position resolves from (a token or "latest") to the sequence number the reader has seen.
// Callers hold f.mu.
func (f *changeFeed) position(from string) (uint64, bool) {
	if strings.EqualFold(from, "latest") {
		return f.last, true
	}
	// Strict: a token is its one canonical encoding (non-zero padding bits, the same bytes
	// under another spelling, are an edited token, not the same one).
	b, err := b64.Strict().DecodeString(from)
	if err != nil || len(b) != 8+changeTokenMAC || !hmac.Equal(b[8:], f.mac(b[:8])) {
		return 0, false
	}
	return f.seq(binary.BigEndian.Uint64(b[:8]))
}

// seq reports whether a reader that has seen up to seq can still be served: every change
// after it is kept. Callers hold f.mu.
func (f *changeFeed) seq(seq uint64) (uint64, bool) {
	if seq > f.last || f.last-seq > uint64(len(f.ring)) {
		return 0, false
	}
	return seq, true
}

// read waits until there are changes after seq, the deadline passes or ctx ends (ok false:
// nothing to answer), and returns at most limit changes with the position after them.
// expired: the changes after seq were dropped from the history.
func (f *changeFeed) read(ctx context.Context, seq uint64, limit int, deadline time.Time) (evs []upstream.ChangeEvent, next uint64, expired, ok bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		f.mu.Lock()
		if _, live := f.seq(seq); !live {
			f.mu.Unlock()
			return nil, 0, true, true
		}
		if f.last > seq {
			n := min(f.last-seq, uint64(limit))
			evs = make([]upstream.ChangeEvent, 0, n)
			for k := seq + 1; k <= seq+n; k++ {
				evs = append(evs, f.ring[k%uint64(len(f.ring))])
			}
			f.mu.Unlock()
			return evs, seq + n, false, true
		}
		wake := f.wake
		f.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return []upstream.ChangeEvent{}, seq, false, true
		}
		if timer == nil {
			timer = time.NewTimer(left)
		}
		if f.waitHook != nil {
			f.waitHook()
		}
		select {
		case <-ctx.Done():
			return nil, 0, false, false
		case <-timer.C:
			return []upstream.ChangeEvent{}, seq, false, true
		case <-wake:
		}
	}
}

// serveChanges answers GET /v8/Events: a long-poll of the change feed.
func (s *Server) serveChanges(ctx context.Context, w http.ResponseWriter, q map[string]string) {
	f := s.feed
	from, has := q["from"]
	if !has || from == "" {
		s.badRequest(w, "The from parameter is required: a change token, or latest.")
		return
	}
	limit := upstream.DefaultPageSize
	if v, has := q["limit"]; has {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > upstream.MaxPageSize {
			s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for limit. It must be an integer between 1 and 10000.", v))
			return
		}
		limit = n
	}
	var wait time.Duration
	if v, has := q["timeoutseconds"]; has {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for timeoutSeconds. It must be a non-negative integer.", v))
			return
		}
		wait = min(time.Duration(n), f.opts.MaxWait/f.opts.Second+1) * f.opts.Second
		wait = min(wait, f.opts.MaxWait)
	}
	f.mu.Lock()
	seq, ok := f.position(from)
	f.mu.Unlock()
	if !ok {
		s.outdatedToken(w)
		return
	}
	evs, next, expired, ok := f.read(ctx, seq, limit, time.Now().Add(wait))
	switch {
	case !ok:
		return // the reader has gone
	case expired:
		s.outdatedToken(w)
		return
	}
	s.writeJSON(w, http.StatusOK, upstream.ChangePage{NextChangeToken: f.token(next), Limit: limit, Results: evs})
}

func (s *Server) outdatedToken(w http.ResponseWriter) {
	s.writeError(w, http.StatusBadRequest, "The change token is outdated or unknown. Get the current state and start again from the latest change token.", "OutdatedChangeToken")
}

// noteChange records an update event for session i. Callers hold s.mu for writing.
func (s *Server) noteChange(i int32) {
	if s.feed == nil {
		return
	}
	c := &s.all[i]
	ev := upstream.ChangeEvent{Type: upstream.ChangeRestoreSessionUpdate, ID: uuidString(c.id), ETag: 1}
	if ls := s.live[i]; ls != nil {
		ev.ETag += ls.etag
	}
	if !s.feed.opts.OmitOrganizationID && int(c.org) < len(s.orgs) {
		ev.OrganizationID = s.orgs[c.org].ID
	}
	s.feed.record(ev)
}

// DeleteSession removes a session as VBO's retention does: it leaves the listings, GETs of
// it answer 404, and a v8 server's change feed reports RestoreSessionDelete. Unknown ids
// fail with ErrNotFound.
func (s *Server) DeleteSession(sessionID string) error {
	u, ok := parseUUID(sessionID)
	if !ok {
		return ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.findSession(u)
	if !ok {
		return ErrNotFound
	}
	if pos, found := slices.BinarySearchFunc(s.byID, u, func(e int32, t [16]byte) int { return compareID(s.all[e].id, t) }); found {
		s.byID = slices.Delete(s.byID, pos, pos+1)
	}
	if pos, found := slices.BinarySearchFunc(s.order, i, s.cmpOrder); found {
		s.order = slices.Delete(s.order, pos, pos+1)
	}
	delete(s.live, i) // s.all[i] stays, unreachable: indices elsewhere must not move
	if s.feed != nil {
		s.feed.record(upstream.ChangeEvent{Type: upstream.ChangeRestoreSessionDelete, ID: uuidString(u)})
	}
	return nil
}
