package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// refreshMargin is how long before expiry a token is renewed, so a call never starts with a
// token about to lapse.
const refreshMargin = 60 * time.Second

// tokenSource holds the server's current token. Concurrent callers that find it missing or
// stale share one token call (singleflight).
type tokenSource struct {
	mu      sync.Mutex
	access  string
	refresh string
	expiry  time.Time
	flight  singleflight.Group
}

// invalidate drops the access token if it is still the one the caller saw rejected, so a burst
// of 401s leads to one new token, not one per caller.
func (ts *tokenSource) invalidate(rejected string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.access == rejected {
		ts.access = ""
	}
}

// accessToken returns a valid access token, fetching or refreshing it when needed.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	ts := &c.tokens
	ts.mu.Lock()
	if ts.access != "" && c.now().Before(ts.expiry.Add(-refreshMargin)) {
		tok := ts.access
		ts.mu.Unlock()
		return tok, nil
	}
	ts.mu.Unlock()

	// The token call must not die with the first caller's context: detach it, bounded by the
	// HTTP client's own timeout, and let each waiter give up on its own context.
	ch := ts.flight.DoChan("token", func() (any, error) {
		return c.renewToken(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", &Error{Server: c.name, Method: http.MethodPost, Path: c.tokenPath(), Err: ctx.Err()}
	}
}

func (c *Client) tokenPath() string {
	return c.apiPath("token")
}

// renewToken uses the refresh token when there is one and falls back to the password grant.
func (c *Client) renewToken(ctx context.Context) (string, error) {
	ts := &c.tokens
	ts.mu.Lock()
	if ts.access != "" && c.now().Before(ts.expiry.Add(-refreshMargin)) { // renewed meanwhile
		tok := ts.access
		ts.mu.Unlock()
		return tok, nil
	}
	refresh := ts.refresh
	ts.mu.Unlock()

	if refresh != "" {
		tok, err := c.requestToken(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		if err == nil {
			return c.storeToken(tok), nil
		}
		var e *Error
		if !errors.As(err, &e) || e.StatusCode == 0 || e.Unavailable() {
			return "", err // the server is not answering; a password grant would not fare better
		}
		c.logger.InfoContext(ctx, "VBO refresh token refused; logging in again", "server", c.name, "status", e.StatusCode)
	}
	tok, err := c.requestToken(ctx, url.Values{"grant_type": {"password"}, "username": {c.username}, "password": {c.password}})
	if err != nil {
		return "", err
	}
	return c.storeToken(tok), nil
}

// Token performs a password grant and returns VBO's token response (it also becomes the
// client's current token). Most callers never need this: every call authenticates itself.
func (c *Client) Token(ctx context.Context) (*Token, error) {
	tok, err := c.requestToken(ctx, url.Values{"grant_type": {"password"}, "username": {c.username}, "password": {c.password}})
	if err != nil {
		return nil, err
	}
	c.storeToken(tok)
	return tok, nil
}

func (c *Client) requestToken(ctx context.Context, form url.Values) (*Token, error) {
	if c.apiVersion != APIv6 {
		form.Set("disable_antiforgery_token", "true")
	}
	req, err := c.newRequest(ctx, http.MethodPost, "token", nil, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok Token
	if _, err := c.do(req, &tok); err != nil {
		var e *Error
		if errors.As(err, &e) && e.StatusCode == http.StatusBadRequest {
			// VBO answers a refused grant with 400 invalid_grant: to callers that is a 401.
			e.StatusCode = http.StatusUnauthorized
		}
		return nil, fmt.Errorf("VBO token: %w", err)
	}
	if tok.AccessToken == "" {
		return nil, &Error{Server: c.name, Method: req.Method, Path: req.URL.Path, StatusCode: http.StatusOK,
			Message: "token response without access_token"}
	}
	return &tok, nil
}

// storeToken records tok and returns its access token. Expiry comes from expires_in, else from
// .expires, else VBO's documented 60 minutes.
func (c *Client) storeToken(tok *Token) string {
	now := c.now()
	var expiry time.Time
	switch {
	case tok.ExpiresIn > 0:
		expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	case parseTokenTime(tok.Expires) != time.Time{}:
		expiry = parseTokenTime(tok.Expires)
	default:
		expiry = now.Add(time.Hour)
	}
	ts := &c.tokens
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.access, ts.refresh, ts.expiry = tok.AccessToken, tok.RefreshToken, expiry
	return ts.access
}

// parseTokenTime reads .issued/.expires in either RFC 1123 (OWIN) or RFC 3339 form.
func parseTokenTime(s string) time.Time {
	if t, err := http.ParseTime(s); err == nil {
		return t
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	return time.Time{}
}
