package upstream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// The v8 change feed: GET /v8/Events?from=<changeToken|latest>&limit=&timeoutSeconds= is a
// long-poll. The server answers as soon as something changed after the token (or when
// timeoutSeconds pass, with no results) with Events_GetResponse {nextChangeToken, limit,
// results[]}; the next call passes nextChangeToken as from. The results are RESTEvent objects
// of many kinds (jobs, restore points, protected objects, ...); Changes keeps the two about
// restore sessions, RestoreSessionUpdate {id, eTag} and RestoreSessionDelete {id}, and counts
// the rest in ChangePage.Ignored. A token the server no longer knows (older than its history,
// from another server, garbled) is answered with errorCode OutdatedChangeToken: Changes
// returns an error matching ErrChangeTokenExpired, and the caller starts over from a listing
// and from=latest.

// Change feed errors, for errors.Is. The *Error of the failed call is wrapped as well.
var (
	// ErrChangeTokenExpired: the server does not know the change token (any more); start again
	// with ChangesLatest after catching up from a listing.
	ErrChangeTokenExpired = errors.New("vbo: change token expired or unknown")
	// ErrNoChangeFeed: the server has no change feed (API v6/v7, or a v8 server answering 404).
	ErrNoChangeFeed = errors.New("vbo: the server has no change feed (API v8 only)")
)

const (
	// ChangesLatest starts the feed at the server's current position: only changes made after
	// the call are reported.
	ChangesLatest = "latest"
	// MaxChangesWait is the longest long-poll Changes asks for; longer waits are shortened.
	MaxChangesWait = 5 * time.Minute
	// errorCodeOutdatedChangeToken is RESTExceptionInfo.errorCode for a token the server no
	// longer knows.
	errorCodeOutdatedChangeToken = "OutdatedChangeToken"
	// maxChangeToken bounds the token the server hands out (it is stored by the caller).
	maxChangeToken = 4096
	// maxChangeID bounds a restore session id in a change event (VBO's are GUIDs).
	maxChangeID = 256
)

// ChangeEventType is RESTEventType. Unknown values are kept verbatim.
type ChangeEventType string

// The change events Changes returns.
const (
	ChangeRestoreSessionUpdate ChangeEventType = "RestoreSessionUpdate"
	ChangeRestoreSessionDelete ChangeEventType = "RestoreSessionDelete"
)

// ChangeEvent is VBO's RESTEvent, reduced to the restore session events: an update (the
// session was created or changed: ID, ETag, and OrganizationID when the server sends it) or a
// delete (the session was removed: ID).
type ChangeEvent struct {
	Type ChangeEventType `json:"eventType"`
	// ID is the restore session's id.
	ID string `json:"id"`
	// ETag is the session's version after the change (updates only): the eTag of
	// GET /v8/RestoreSessions/{id}.
	ETag int64 `json:"eTag,omitempty"`
	// OrganizationID is the backed-up organisation's id. The RESTEvent schema has the field,
	// but RESTRestoreSessionUpdateEvent does not list it: callers must cope with it empty.
	OrganizationID string `json:"organizationId,omitempty"`
}

// ChangePage is VBO's Events_GetResponse: one answer of the change feed.
type ChangePage struct {
	// NextChangeToken is the from of the next call (never empty in a page Changes returns).
	NextChangeToken string `json:"nextChangeToken"`
	Limit           int    `json:"limit"`
	SetID           string `json:"setId,omitempty"`
	// Results are the restore session events, in the server's order.
	Results []ChangeEvent `json:"results"`
	Links   Links         `json:"_links,omitempty"`
	// Ignored counts the events Changes left out of Results: other kinds (jobs, restore points,
	// ...) and restore session events without a usable id.
	Ignored int `json:"-"`
}

// Changes reads the change feed from a change token (or ChangesLatest): at most limit events
// (0: the server's default, 30), waiting up to timeout for the first one (0: answer at once;
// it is sent in whole seconds, rounded up, and at most MaxChangesWait). The wait extends the
// client's per-attempt deadlines (Timeouts.Attempt, the response-header wait): the server
// answering after timeout is the feed working, not a slow server; the caller's ctx still
// bounds the call. A long-poll does not hold one of the server's MaxConcurrency slots.
//
// It fails with ErrNoChangeFeed on v6/v7 (without a call) and ErrChangeTokenExpired when the
// server no longer knows from. GETs retry per the client's RetryPolicy.
func (c *Client) Changes(ctx context.Context, from string, limit int, timeout time.Duration) (ChangePage, error) {
	switch {
	case c.apiVersion != APIv8:
		return ChangePage{}, fmt.Errorf("VBO %s (%s): %w", c.name, c.apiVersion, ErrNoChangeFeed)
	case from == "":
		return ChangePage{}, errors.New("vbo: change feed: empty change token (use upstream.ChangesLatest)")
	case limit < 0 || limit > MaxPageSize:
		return ChangePage{}, fmt.Errorf("vbo: change feed: limit %d out of range 0..%d", limit, MaxPageSize)
	case timeout < 0:
		return ChangePage{}, fmt.Errorf("vbo: change feed: negative timeout %s", timeout)
	}
	secs := changeWaitSeconds(timeout)
	q := url.Values{"from": {from}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if secs > 0 {
		q.Set("timeoutSeconds", strconv.Itoa(secs))
	}
	var page ChangePage
	resp, err := c.getWait(ctx, "Events", q, changesOf(&page, limit), time.Duration(secs)*time.Second)
	if err != nil {
		var e *Error
		switch {
		case errors.As(err, &e) && e.ErrorCode == errorCodeOutdatedChangeToken:
			return ChangePage{}, fmt.Errorf("%w: %w", ErrChangeTokenExpired, err)
		case errors.As(err, &e) && e.StatusCode == http.StatusNotFound:
			return ChangePage{}, fmt.Errorf("%w: %w", ErrNoChangeFeed, err)
		}
		return ChangePage{}, err
	}
	bad := func(msg string) (ChangePage, error) {
		return ChangePage{}, &Error{Server: c.name, Method: http.MethodGet, Path: resp.Request.URL.Path,
			StatusCode: resp.StatusCode, Message: "change feed: " + msg}
	}
	switch {
	case page.NextChangeToken == "":
		return bad("the answer has no nextChangeToken")
	case len(page.NextChangeToken) > maxChangeToken:
		return bad(fmt.Sprintf("nextChangeToken longer than %d bytes", maxChangeToken))
	}
	page.keepRestoreSessionEvents()
	return page, nil
}

// changeWaitSeconds is timeout in whole seconds, rounded up, at most MaxChangesWait.
func changeWaitSeconds(timeout time.Duration) int {
	timeout = min(timeout, MaxChangesWait)
	return int(math.Ceil(timeout.Seconds()))
}

// keepRestoreSessionEvents leaves the restore session events with a usable id in Results and
// counts the others in Ignored.
func (p *ChangePage) keepRestoreSessionEvents() {
	kept := p.Results[:0]
	for _, ev := range p.Results {
		switch {
		case ev.Type != ChangeRestoreSessionUpdate && ev.Type != ChangeRestoreSessionDelete,
			ev.ID == "" || len(ev.ID) > maxChangeID || strings.TrimSpace(ev.ID) != ev.ID:
			p.Ignored++
			continue
		}
		if ev.Type == ChangeRestoreSessionDelete {
			ev.ETag, ev.OrganizationID = 0, ""
		}
		kept = append(kept, ev)
	}
	clear(p.Results[len(kept):])
	p.Results = kept
}

// boundedChanges decodes an Events_GetResponse of at most max results.
type boundedChanges struct {
	page   *ChangePage
	max    int
	expect int
}

// changesOf is the bounded decoder of a change page fetched with limit (0: the server's
// default page, DefaultPageSize).
func changesOf(page *ChangePage, limit int) boundedChanges {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	return boundedChanges{page: page, max: pageBound(limit), expect: limit}
}

func (b boundedChanges) decodeStream(dec *jsontext.Decoder) error {
	p := b.page
	return decodeMembers(dec, func(name string) (bool, error) {
		switch {
		case strings.EqualFold(name, "results"):
			return true, decodeList(dec, "a change page", b.max, b.expect, &p.Results)
		case strings.EqualFold(name, "nextChangeToken"):
			return true, decodeValue(dec, &p.NextChangeToken)
		case strings.EqualFold(name, "limit"):
			return true, decodeValue(dec, &p.Limit)
		case strings.EqualFold(name, "setId"):
			return true, decodeValue(dec, &p.SetID)
		case strings.EqualFold(name, "_links"):
			return true, decodeValue(dec, &p.Links)
		}
		return false, nil
	})
}

// ---- long-poll plumbing (used by get and send) ----

type longPollKey struct{}

// withLongPoll marks a request context: the server may take wait to answer on purpose.
func withLongPoll(ctx context.Context, wait time.Duration) context.Context {
	if wait <= 0 {
		return ctx
	}
	return context.WithValue(ctx, longPollKey{}, wait)
}

// longPollWait is the wait withLongPoll marked ctx with (0: none).
func longPollWait(ctx context.Context) time.Duration {
	d, _ := ctx.Value(longPollKey{}).(time.Duration)
	return d
}

// forLongPoll returns the attempt timeouts of a long-poll of wait: the whole attempt may take
// wait longer. Idle is unchanged: it starts with the response body, after the wait.
func (to Timeouts) forLongPoll(wait time.Duration) Timeouts {
	if to.Attempt > 0 {
		to.Attempt += wait
	}
	return to
}

// longPollHTTP holds the transport long-polls use: the client's own, but without the
// transport's response-header deadline (Timeouts.ResponseHeader), which would cut every wait
// longer than it; the attempt deadline (Attempt + wait) bounds the wait instead. Built on
// first use.
type longPollHTTP struct {
	mu    sync.Mutex
	built bool
	rt    http.RoundTripper
	own   *http.Transport // the clone, for CloseIdleConnections; nil when rt is the client's
}

// longPollClient is the HTTP client of one long-poll of wait.
func (c *Client) longPollClient(wait time.Duration) *http.Client {
	lp := &c.longPoll
	lp.mu.Lock()
	if !lp.built {
		lp.built, lp.rt = true, c.httpClient.Transport
		if tr, ok := c.unwrapped.Transport.(*http.Transport); ok && tr.ResponseHeaderTimeout > 0 {
			lp.own = tr.Clone()
			lp.own.ResponseHeaderTimeout = 0
			lp.rt = lp.own
			if c.wrap != nil {
				lp.rt = c.wrap(lp.own)
			}
		}
	}
	rt := lp.rt
	lp.mu.Unlock()
	hc := *c.httpClient
	hc.Transport = rt
	if hc.Timeout > 0 {
		hc.Timeout += wait
	}
	return &hc
}

// closeIdle closes the long-poll transport's idle connections, if it has its own.
func (lp *longPollHTTP) closeIdle() {
	lp.mu.Lock()
	own := lp.own
	lp.mu.Unlock()
	if own != nil {
		own.CloseIdleConnections()
	}
}
