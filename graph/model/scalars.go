package model

import (
	"fmt"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// InputError is a client mistake in an input value: a scalar that does not parse, a filter or
// a watch rule the caller must fix, a query argument out of range. It is the one input-error
// type of the gateway: the error presenter reports it as BAD_USER_INPUT with its message (and
// Field, when set, in extensions.field); the CSV exports answer 400 with it.
type InputError struct {
	// Field is the input's path (e.g. "filter.startTimeFrom", "outsideBusinessHours.timeZone");
	// "" when the message names it or there is none.
	Field string
	// Msg says what is wrong (after Field, when set).
	Msg string
	// Err is the cause, if any (never shown to the client).
	Err error
}

// Error is the message a client sees: Field and Msg.
func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + " " + e.Msg
}

func (e *InputError) Unwrap() error { return e.Err }

// MarshalDateTime writes a DateTime: RFC 3339, always UTC (null for the zero time, like
// graphql.MarshalTime, whose output it matches: quoted time.RFC3339Nano).
func MarshalDateTime(t time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return dateTime(t.UTC())
}

// dateTime writes itself into the response without the closure, formatted string and quoted
// copy graphql.MarshalTime allocates: one allocation (the interface value) instead of three.
type dateTime time.Time

// MarshalGQL appends the quoted text to the writer's own buffer when it offers one (gqlgen
// writes responses into a bytes.Buffer).
func (d dateTime) MarshalGQL(w io.Writer) {
	if bw, ok := w.(interface {
		AvailableBuffer() []byte
		Write([]byte) (int, error)
	}); ok {
		b := append(bw.AvailableBuffer(), '"')
		b = time.Time(d).AppendFormat(b, time.RFC3339Nano)
		_, _ = bw.Write(append(b, '"'))
		return
	}
	var buf [64]byte
	b := append(buf[:0], '"')
	b = time.Time(d).AppendFormat(b, time.RFC3339Nano)
	_, _ = w.Write(append(b, '"'))
}

// UnmarshalDateTime reads a DateTime: RFC 3339 text with a zone (e.g. 2026-11-25T00:00:00Z).
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, &InputError{Msg: fmt.Sprintf("DateTime must be an RFC 3339 string, got %T", v)}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &InputError{Msg: fmt.Sprintf("DateTime %q is not RFC 3339 (e.g. 2026-11-25T00:00:00Z)", truncate(s, 64))}
	}
	if t.Before(minDateTime) || !t.Before(maxDateTime) {
		return time.Time{}, &InputError{Msg: fmt.Sprintf("DateTime %q is out of range (years 2000 to 2199)", truncate(s, 64))}
	}
	return t.UTC(), nil
}

// The range of DateTime input: wide enough for any restore VBO can have recorded, narrow enough
// that every value has an exact nanosecond Unix time (cursors and loader keys rely on it).
var (
	minDateTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDateTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
