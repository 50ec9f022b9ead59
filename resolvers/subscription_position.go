package resolvers

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// Resume positions (issue 22 item 1). Every subscription event carries where its stream stands
// in the archive's feed: for the session subscriptions, per server the last feed sequence the
// stream has passed (the archive numbers each server's entries in commit order, the same for
// every replica), with the stream's since; for restoreEventAdded, the session and the last
// event's order. A client resumes exactly after it with after (or SSE's Last-Event-ID): a time
// cannot do that, since the archive does not learn of sessions in start time order across
// servers. Positions are sealed with the gateway's cursor key (gid.Cursors), so a client can
// neither read one (it names servers and counts their activity) nor forge one.

// FeedPosition is where a session subscription stands in the archive's feed.
type FeedPosition struct {
	// Seqs maps a server to the last feed sequence the stream has passed (absent: none).
	Seqs map[string]int64
	// Since is the stream's since; nil when the stream started live, leaving out what a
	// backfill finds.
	Since *time.Time
	// Minted is when the position was handed out.
	Minted time.Time
}

// FeedFrom says where a session subscription starts: After (a resume) or Since, or neither
// (live only).
type FeedFrom struct {
	Since *time.Time
	After *FeedPosition
}

// Errors of a resume position the feed refuses (BAD_USER_INPUT).
var (
	// ErrPositionExpired: the position is older than the archive's retention, so sessions after
	// it may have been pruned.
	ErrPositionExpired error = &model.InputError{Msg: "the resume position (after or Last-Event-ID) is older than the archive's retention (watch.retention): " +
		"what came after it may have been pruned; subscribe again with since"}
	// ErrPositionAhead: the position lies beyond what the archive holds (an archive that was
	// recreated, or another deployment's with the same cursor key).
	ErrPositionAhead error = &model.InputError{Msg: "the resume position (after or Last-Event-ID) lies beyond this archive's feed: " +
		"it was not handed out by this deployment's archive; subscribe again with since"}
)

// Keyset kinds binding a sealed position to its subscription field.
const (
	posStarted = "sub-started"
	posEnded   = "sub-ended"
	posEvents  = "sub-events"
	// maxPositionServers bounds the servers a position may name.
	maxPositionServers = 1024
)

func positionKind(kind FeedKind) string {
	if kind == FeedEnded {
		return posEnded
	}
	return posStarted
}

var errBadPosition error = &model.InputError{Msg: "invalid resume position (after or Last-Event-ID): use one this subscription field handed out"}

// encodeFeedPosition seals p for a subscription of kind.
func encodeFeedPosition(c *gid.Cursors, kind FeedKind, p *FeedPosition) string {
	v := url.Values{}
	if p.Since != nil {
		v.Set("m", strconv.FormatInt(p.Since.UnixNano(), 10))
	} else {
		v.Set("m", "live")
	}
	v.Set("t", strconv.FormatInt(p.Minted.UnixNano(), 10))
	for server, seq := range p.Seqs {
		if seq > 0 {
			v.Set("s."+server, strconv.FormatInt(seq, 10))
		}
	}
	return c.EncodeKeyset(positionKind(kind), v.Encode())
}

// decodeFeedPosition opens a position sealed for a subscription of kind.
func decodeFeedPosition(c *gid.Cursors, kind FeedKind, s string) (*FeedPosition, error) {
	text, err := c.DecodeKeyset(positionKind(kind), s)
	if err != nil {
		return nil, positionErr(err)
	}
	v, err := url.ParseQuery(text)
	if err != nil || len(v) > maxPositionServers+2 {
		return nil, errBadPosition
	}
	p := &FeedPosition{Seqs: map[string]int64{}}
	for k, vals := range v {
		if len(vals) != 1 {
			return nil, errBadPosition
		}
		n, err := strconv.ParseInt(vals[0], 10, 64)
		switch {
		case k == "m" && vals[0] == "live":
		case err != nil || n < 0:
			return nil, errBadPosition
		case k == "m":
			since := time.Unix(0, n).UTC()
			p.Since = &since
		case k == "t":
			p.Minted = time.Unix(0, n).UTC()
		case strings.HasPrefix(k, "s.") && len(k) > 2:
			p.Seqs[k[2:]] = n
		default:
			return nil, errBadPosition
		}
	}
	if _, ok := v["m"]; !ok || p.Minted.IsZero() {
		return nil, errBadPosition
	}
	return p, nil
}

// eventPosition is where restoreEventAdded stands: the last event sent of one session.
type eventPosition struct {
	server, sessionID string
	order             int
}

func encodeEventPosition(c *gid.Cursors, p eventPosition) string {
	v := url.Values{"s": {p.server}, "id": {p.sessionID}, "o": {strconv.Itoa(p.order)}}
	return c.EncodeKeyset(posEvents, v.Encode())
}

func decodeEventPosition(c *gid.Cursors, s string) (eventPosition, error) {
	text, err := c.DecodeKeyset(posEvents, s)
	if err != nil {
		return eventPosition{}, positionErr(err)
	}
	v, err := url.ParseQuery(text)
	if err != nil || len(v) != 3 || len(v["s"]) != 1 || len(v["id"]) != 1 || len(v["o"]) != 1 {
		return eventPosition{}, errBadPosition
	}
	o, err := strconv.Atoi(v["o"][0])
	if err != nil || o < 0 {
		return eventPosition{}, errBadPosition
	}
	return eventPosition{server: v["s"][0], sessionID: v["id"][0], order: o}, nil
}

// positionErr words a position that does not open like a bad cursor, naming the position.
func positionErr(err error) error {
	if errors.Is(err, gid.ErrCursorUnsealed) {
		return &model.InputError{Msg: "invalid resume position (after or Last-Event-ID): it does not open under this gateway's cursor key " +
			"(altered, made up, or from before a restart of a gateway without a configured cursor secret)"}
	}
	return errBadPosition
}

type resumeKey struct{}

// WithResume carries a resume position the transport received outside the query (SSE's
// Last-Event-ID header). It wins over the subscription's after and since arguments: a client
// reconnecting sends the same query, and the header is where it stands now.
func WithResume(ctx context.Context, position string) context.Context {
	if position == "" {
		return ctx
	}
	return context.WithValue(ctx, resumeKey{}, position)
}

func resumeFrom(ctx context.Context, after *string) *string {
	if s, ok := ctx.Value(resumeKey{}).(string); ok {
		return &s
	}
	return after
}

type positionsKey struct{}

// Positions hands each subscription event's resume position to the transport: the resolver
// pushes a position just before it sends the event on its channel, and the transport pops one
// per response it builds (gqlgen reads one event per response, in channel order), so the two
// stay paired without gqlgen knowing. It holds at most the events in flight (a few).
type Positions struct {
	mu sync.Mutex
	q  []string
}

// WithPositions prepares ctx, a subscription's, to carry its events' positions.
func WithPositions(ctx context.Context) (context.Context, *Positions) {
	p := &Positions{}
	return context.WithValue(ctx, positionsKey{}, p), p
}

func (p *Positions) push(s string) {
	p.mu.Lock()
	p.q = append(p.q, s)
	p.mu.Unlock()
}

// Pop is the position of the next event the subscription sent ("" when none is pending).
func (p *Positions) Pop() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) == 0 {
		return ""
	}
	s := p.q[0]
	p.q[0] = ""
	p.q = p.q[1:]
	return s
}

// positioned is an event and its sealed position.
type positioned[T any] struct {
	v   T
	pos string
}

// sendPositioned forwards the events of in, pushing each one's position as it goes out.
func sendPositioned[T any](ctx context.Context, in <-chan positioned[T]) <-chan T {
	q, _ := ctx.Value(positionsKey{}).(*Positions)
	out := make(chan T)
	go func() {
		defer close(out)
		for e := range in {
			if q != nil {
				q.push(e.pos)
			}
			select {
			case out <- e.v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
