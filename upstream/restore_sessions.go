package upstream

import (
	"context"
	"iter"
	"time"
)

// RestoreSessionListOptions filter GET /RestoreSessions. The time window acts on creationTime
// and is sent in UTC.
type RestoreSessionListOptions struct {
	ListOptions
	StartTimeFrom *time.Time
	StartTimeTo   *time.Time
}

// vboTime formats a filter time as VBO expects: UTC, RFC 3339.
func vboTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// RestoreSessions lists one page of restore sessions, newest first.
func (c *Client) RestoreSessions(ctx context.Context, opts RestoreSessionListOptions) (*Page[RestoreSession], *Response, error) {
	q := opts.values()
	if opts.StartTimeFrom != nil {
		q.Set("startTimeFrom", vboTime(*opts.StartTimeFrom))
	}
	if opts.StartTimeTo != nil {
		q.Set("startTimeTo", vboTime(*opts.StartTimeTo))
	}
	var page Page[RestoreSession]
	resp, err := c.get(ctx, "RestoreSessions", q, pageOf(&page, opts.Limit))
	if err != nil {
		return nil, resp, err
	}
	return &page, resp, nil
}

// RestoreSessionsIter walks every restore session matching opts, page by page (IterPageSize
// per call unless opts.Limit is set), starting at opts.Offset.
func (c *Client) RestoreSessionsIter(ctx context.Context, opts RestoreSessionListOptions) iter.Seq2[RestoreSession, error] {
	return walk(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*Page[RestoreSession], *Response, error) {
		o := opts
		o.ListOptions = lo
		return c.RestoreSessions(ctx, o)
	})
}

// RestoreSession gets one restore session.
func (c *Client) RestoreSession(ctx context.Context, id string) (*RestoreSession, *Response, error) {
	var s RestoreSession
	resp, err := c.get(ctx, "RestoreSessions/"+escape(id), nil, &s)
	if err != nil {
		return nil, resp, err
	}
	return &s, resp, nil
}

// RestoreSessionEvents lists one page of a session's events, in order.
func (c *Client) RestoreSessionEvents(ctx context.Context, sessionID string, opts ListOptions) (*Page[RestoreSessionEvent], *Response, error) {
	var page Page[RestoreSessionEvent]
	resp, err := c.get(ctx, "RestoreSessions/"+escape(sessionID)+"/Events", opts.values(), pageOf(&page, opts.Limit))
	if err != nil {
		return nil, resp, err
	}
	return &page, resp, nil
}

// RestoreSessionEventsIter walks every event of a session.
func (c *Client) RestoreSessionEventsIter(ctx context.Context, sessionID string, opts ListOptions) iter.Seq2[RestoreSessionEvent, error] {
	return walk(ctx, opts, func(ctx context.Context, lo ListOptions) (*Page[RestoreSessionEvent], *Response, error) {
		return c.RestoreSessionEvents(ctx, sessionID, lo)
	})
}

// RestoreSessionEvent gets one event of a session.
func (c *Client) RestoreSessionEvent(ctx context.Context, sessionID, eventID string) (*RestoreSessionEvent, *Response, error) {
	var ev RestoreSessionEvent
	resp, err := c.get(ctx, "RestoreSessions/"+escape(sessionID)+"/Events/"+escape(eventID), nil, &ev)
	if err != nil {
		return nil, resp, err
	}
	return &ev, resp, nil
}
