// Package gid encodes and validates the gateway's opaque global IDs and cursors.
//
// A global ID is base64url("Kind:server:upstreamId"); an event's also carries its session
// ("RestoreEvent:server:sessionId:eventId"), since VBO can only fetch an event through it.
// Cursors are base64url text too. Everything decoded from a client is validated: a bad ID or
// cursor is an ErrInvalid, never a panic.
package gid

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Kind is the object type an ID names.
type Kind string

// ID kinds.
const (
	KindServer               Kind = "VboServer"
	KindOrganization         Kind = "Organization"
	KindDetachedOrganization Kind = "DetachedOrganization"
	KindRestoreSession       Kind = "RestoreSession"
	KindRestoreEvent         Kind = "RestoreEvent"
)

// ErrInvalid is returned for any malformed ID or cursor.
var ErrInvalid = errors.New("invalid id")

const (
	maxEncoded  = 1024
	maxServer   = 64
	maxUpstream = 64
	maxName     = 256
)

// ID is a decoded global ID.
type ID struct {
	Kind     Kind
	Server   string
	Upstream string // upstream id; the organisation name for KindDetachedOrganization
	Parent   string // the session id, for KindRestoreEvent
}

// String encodes the ID (one allocation: the text is assembled on the stack).
func (id ID) String() string {
	var stack [256]byte
	raw := append(stack[:0], id.Kind...)
	raw = append(append(raw, ':'), id.Server...)
	switch id.Kind {
	case KindServer:
	case KindRestoreEvent:
		raw = append(append(raw, ':'), id.Parent...)
		raw = append(append(raw, ':'), id.Upstream...)
	default:
		raw = append(append(raw, ':'), id.Upstream...)
	}
	return base64String(raw)
}

// base64String is base64url (unpadded) of src, in one allocation: the encoded bytes become
// the string without a copy.
func base64String(src []byte) string {
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(src)))
	base64.RawURLEncoding.Encode(out, src)
	return unsafe.String(unsafe.SliceData(out), len(out)) // out is never written again
}

// Parse decodes and validates a global ID.
func Parse(s string) (ID, error) {
	if len(s) == 0 || len(s) > maxEncoded {
		return ID{}, fmt.Errorf("%w: wrong length", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return ID{}, fmt.Errorf("%w: not base64url", ErrInvalid)
	}
	raw := string(b)
	kind, rest, _ := strings.Cut(raw, ":")
	id := ID{Kind: Kind(kind)}
	switch id.Kind {
	case KindServer:
		id.Server = rest
	case KindOrganization, KindRestoreSession:
		id.Server, id.Upstream, _ = strings.Cut(rest, ":")
		if !ValidUpstreamID(id.Upstream) {
			return ID{}, fmt.Errorf("%w: bad upstream id", ErrInvalid)
		}
	case KindRestoreEvent:
		var pair string
		id.Server, pair, _ = strings.Cut(rest, ":")
		id.Parent, id.Upstream, _ = strings.Cut(pair, ":")
		if !ValidUpstreamID(id.Parent) || !ValidUpstreamID(id.Upstream) {
			return ID{}, fmt.Errorf("%w: bad upstream id", ErrInvalid)
		}
	case KindDetachedOrganization:
		id.Server, id.Upstream, _ = strings.Cut(rest, ":")
		if id.Upstream == "" || len(id.Upstream) > maxName || !utf8.ValidString(id.Upstream) {
			return ID{}, fmt.Errorf("%w: bad organisation name", ErrInvalid)
		}
	default:
		return ID{}, fmt.Errorf("%w: unknown kind", ErrInvalid)
	}
	if !ValidServerName(id.Server) {
		return ID{}, fmt.Errorf("%w: bad server name", ErrInvalid)
	}
	return id, nil
}

// ParseKind decodes an ID and checks its kind.
func ParseKind(s string, want Kind) (ID, error) {
	id, err := Parse(s)
	if err != nil {
		return ID{}, err
	}
	if id.Kind != want {
		return ID{}, fmt.Errorf("%w: not a %s id", ErrInvalid, want)
	}
	return id, nil
}

// ValidServerName reports whether s can name a server: 1-64 of [A-Za-z0-9._-].
func ValidServerName(s string) bool {
	return validChars(s, maxServer, func(r byte) bool { return r == '.' || r == '_' || r == '-' })
}

// ValidUpstreamID reports whether s looks like a VBO id: 1-64 of [A-Za-z0-9-] (VBO uses UUIDs).
func ValidUpstreamID(s string) bool {
	return validChars(s, maxUpstream, func(r byte) bool { return r == '-' })
}

func validChars(s string, max int, extra func(byte) bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || extra(c)) {
			return false
		}
	}
	return true
}
