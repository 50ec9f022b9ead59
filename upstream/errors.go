package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors for errors.Is. An *Error matches the sentinel of its class.
var (
	// ErrUnauthorized: the server refused the credentials or token (401, or a failed token grant).
	ErrUnauthorized = errors.New("vbo: unauthorized")
	// ErrNotFound: the resource does not exist (404).
	ErrNotFound = errors.New("vbo: not found")
	// ErrUnavailable: the server could not be reached or answered 429/502/503/504.
	ErrUnavailable = errors.New("vbo: server unavailable")
	// ErrBadRequest: the server rejected the request's parameters (400).
	ErrBadRequest = errors.New("vbo: bad request")
)

// maxErrorBody caps how much of an error body is read.
const maxErrorBody = 1 << 20

// Error is the one error type the client returns for a failed call: an HTTP error status,
// a failed token grant, or a transport failure (StatusCode 0, Err set).
type Error struct {
	Server     string // the Fleet name of the server ("" when unnamed)
	Method     string
	Path       string // request path without query, e.g. /v6/RestoreSessions
	StatusCode int    // 0 for transport errors
	Message    string // from RESTExceptionInfo.message, an OAuth error, or a short text body
	ErrorCode  string // RESTExceptionInfo.errorCode (v7+), or the OAuth "error" field
	RetryAfter time.Duration
	Err        error // underlying transport or decode error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("vbo")
	if e.Server != "" {
		b.WriteString(" ")
		b.WriteString(e.Server)
	}
	fmt.Fprintf(&b, ": %s %s", e.Method, e.Path)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " (%s)", e.ErrorCode)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying transport error, so errors.Is(err, context.DeadlineExceeded) works.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel errors by status class.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnavailable:
		return e.Unavailable()
	}
	return false
}

// Unavailable reports whether the server could not serve the call for now: transport failure,
// 429, 502, 503 or 504. Such calls are safe to retry when idempotent.
func (e *Error) Unavailable() bool {
	switch e.StatusCode {
	case 0:
		return e.Err != nil
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// newResponseError builds an *Error from a non-2xx response, reading at most maxErrorBody bytes.
func newResponseError(server string, resp *http.Response, body []byte) *Error {
	e := &Error{
		Server:     server,
		Method:     resp.Request.Method,
		Path:       resp.Request.URL.Path,
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	e.Message, e.ErrorCode = parseErrorBody(body)
	return e
}

// parseErrorBody understands RESTExceptionInfo ({"message","errorCode"}), OAuth errors
// ({"error","error_description"}), and falls back to a short printable excerpt of any other body.
func parseErrorBody(body []byte) (message, code string) {
	var info struct {
		Message          string `json:"message"`
		ErrorCode        string `json:"errorCode"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &info) == nil {
		switch {
		case info.Message != "":
			return info.Message, info.ErrorCode
		case info.Error != "" || info.ErrorDescription != "":
			return firstNonEmpty(info.ErrorDescription, info.Error), info.Error
		}
	}
	return excerpt(body, 200), ""
}

// excerpt returns up to n runes of printable text from b, whitespace collapsed.
func excerpt(b []byte, n int) string {
	var out strings.Builder
	space := false
	for len(b) > 0 && out.Len() < n {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == utf8.RuneError:
			continue
		case unicode.IsSpace(r):
			space = out.Len() > 0
			continue
		case !unicode.IsPrint(r):
			continue
		}
		if space {
			out.WriteByte(' ')
			space = false
		}
		out.WriteRune(r)
	}
	return out.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date. Zero when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
