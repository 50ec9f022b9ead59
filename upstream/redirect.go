package upstream

import (
	"errors"
	"net/http"
)

// ErrRedirect: the server answered a redirect (3xx). The client never follows one: a redirect
// would carry the password (token POST, re-posted on 307/308) or the bearer token (GETs) to
// wherever the Location points. errors.Is(err, ErrRedirect) holds for such an *Error.
var ErrRedirect = errors.New("vbo: redirect refused")

// refuseRedirects is the http.Client.CheckRedirect of every VBO client: hand the 3xx back
// instead of following it.
func refuseRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// withoutRedirects returns a copy of hc that never follows redirects (hc itself is left
// alone: it may be shared with other code).
func withoutRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = refuseRedirects
	return &c
}

// isRedirect reports a 3xx status.
func isRedirect(status int) bool { return status >= 300 && status <= 399 }

// newRedirectError describes a refused redirect by the Location's host only: never its path or
// query (which could carry anything), and never the request's credentials.
func newRedirectError(server string, resp *http.Response) *Error {
	where := "a missing Location"
	if loc := resp.Header.Get("Location"); loc != "" {
		where = "an unreadable Location"
		if u, err := resp.Request.URL.Parse(loc); err == nil && u.Host != "" {
			where = excerpt([]byte(u.Host), 100)
		}
	}
	return &Error{Server: server, Method: resp.Request.Method, Path: resp.Request.URL.Path, StatusCode: resp.StatusCode,
		Message: "redirect to " + where + " not followed", Err: ErrRedirect}
}
