package gid

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A cursor's text has a version prefix:
//   "o1:<n>"                         an offset into a stable list (organisations, events)
//   "s1:<server>=<pos>;<server>=..."  a position in each server's newest-first session stream
// where <pos> is "<unix nanos>,<skip>" or "-" for a server whose stream is exhausted.
//
// A stream position can lie on a session the caller may not read (the merge reads past other
// tenants' sessions), so clients only ever get sealed cursors (Cursors, seal.go). The
// functions below encode the text as plain base64url: for tests and tools, never for clients.

// Position is how far a server's newest-first restore session stream has been consumed: every
// session newer than Time, and the first Skip sessions (in upstream order) created exactly at
// Time. Done means the stream is exhausted.
type Position struct {
	Time time.Time
	Skip int
	Done bool
}

// StreamCursor maps server name to its stream position. Servers absent from it start at the top.
type StreamCursor map[string]Position

const maxServersInCursor = 256

// EncodeOffset makes an unsealed offset cursor; n is the number of items before the next page.
func EncodeOffset(n int) string {
	var stack [32]byte
	return base64String(appendOffsetText(stack[:0], n))
}

func appendOffsetText(b []byte, n int) []byte {
	return strconv.AppendInt(append(b, "o1:"...), int64(n), 10)
}

// DecodeOffset reads an unsealed offset cursor; "" means the start.
func DecodeOffset(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	text, err := unbase64(s)
	if err != nil {
		return 0, err
	}
	return parseOffset(text)
}

// parseOffset reads an offset cursor's text.
func parseOffset(text string) (int, error) {
	raw, ok := strings.CutPrefix(text, "o1:")
	if !ok {
		return 0, fmt.Errorf("%w: wrong cursor kind", ErrInvalid)
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > 1<<30 {
		return 0, fmt.Errorf("%w: bad cursor offset", ErrInvalid)
	}
	return n, nil
}

// EncodeStream makes an unsealed stream cursor. Output is deterministic (servers sorted).
func EncodeStream(c StreamCursor) string {
	var stack [256]byte
	return base64String(appendStreamText(stack[:0], c))
}

// appendStreamText appends the cursor's text; a few servers are sorted on the stack.
func appendStreamText(b []byte, c StreamCursor) []byte {
	var stack [8]string
	names := stack[:0]
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	b = append(b, "s1:"...)
	for i, n := range names {
		if i > 0 {
			b = append(b, ';')
		}
		p := c[n]
		b = append(append(b, n...), '=')
		if p.Done {
			b = append(b, '-')
		} else {
			b = strconv.AppendInt(b, p.Time.UnixNano(), 10)
			b = strconv.AppendInt(append(b, ','), int64(p.Skip), 10)
		}
	}
	return b
}

// DecodeStream reads an unsealed stream cursor; "" means every server starts at the top.
func DecodeStream(s string) (StreamCursor, error) {
	if s == "" {
		return StreamCursor{}, nil
	}
	text, err := unbase64(s)
	if err != nil {
		return nil, err
	}
	return parseStream(text)
}

// parseStream reads a stream cursor's text.
func parseStream(text string) (StreamCursor, error) {
	c := StreamCursor{}
	raw, ok := strings.CutPrefix(text, "s1:")
	if !ok {
		return nil, fmt.Errorf("%w: wrong cursor kind", ErrInvalid)
	}
	if raw == "" {
		return c, nil
	}
	for part := range strings.SplitSeq(raw, ";") {
		name, pos, ok := strings.Cut(part, "=")
		if !ok || !ValidServerName(name) {
			return nil, fmt.Errorf("%w: bad cursor server", ErrInvalid)
		}
		if _, dup := c[name]; dup || len(c) >= maxServersInCursor {
			return nil, fmt.Errorf("%w: bad cursor servers", ErrInvalid)
		}
		if pos == "-" {
			c[name] = Position{Done: true}
			continue
		}
		nanosText, skipText, ok := strings.Cut(pos, ",")
		nanos, err1 := strconv.ParseInt(nanosText, 10, 64)
		skip, err2 := strconv.Atoi(skipText)
		if !ok || err1 != nil || err2 != nil || skip < 0 || skip > 1<<20 {
			return nil, fmt.Errorf("%w: bad cursor position", ErrInvalid)
		}
		c[name] = Position{Time: time.Unix(0, nanos).UTC(), Skip: skip}
	}
	return c, nil
}

// unbase64 decodes a cursor's base64url form (bounded in length first).
func unbase64(s string) (string, error) {
	if len(s) > maxEncoded*8 {
		return "", fmt.Errorf("%w: cursor too long", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return "", fmt.Errorf("%w: cursor is not base64url", ErrInvalid)
	}
	return string(b), nil
}
