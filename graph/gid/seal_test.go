package gid

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("a secret of at least thirty-two bytes, for tests")

func mustCursors(t testing.TB, secret []byte) *Cursors {
	t.Helper()
	c, err := NewCursors(secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Sealed cursors round-trip, open under the same secret in another instance (a restart, another
// replica), and under no other key; their bytes show nothing of what they hold.
func TestSealedCursors(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC)
	sc := StreamCursor{"syd1": {Time: t0, Skip: 2}, "mel1": {Done: true}}
	a, restarted, other := mustCursors(t, testSecret), mustCursors(t, testSecret), NewRandomCursors()

	s := a.EncodeStream(sc)
	for name, c := range map[string]*Cursors{"same instance": a, "same secret (restart, replica)": restarted} {
		got, err := c.DecodeStream(s)
		if err != nil || EncodeStream(got) != EncodeStream(sc) {
			t.Errorf("%s: DecodeStream = %v, %v; want %v", name, got, err, sc)
		}
	}
	if _, err := other.DecodeStream(s); !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrCursorUnsealed) {
		t.Errorf("another key opened it: %v", err)
	}
	if n, err := restarted.DecodeOffset(a.EncodeOffset(42)); err != nil || n != 42 {
		t.Errorf("offset round trip = %d, %v", n, err)
	}
	if s2 := a.EncodeStream(sc); s2 == s {
		t.Error("two seals of one cursor are the same string (no fresh nonce)")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(s)
	for _, secret := range []string{"s1:", "syd1", "mel1", strconv.FormatInt(t0.UnixNano(), 10), strconv.FormatInt(t0.Unix(), 10)} {
		if strings.Contains(s, secret) || bytes.Contains(raw, []byte(secret)) {
			t.Errorf("sealed cursor %q shows %q", s, secret)
		}
	}
}

// Anything that was not sealed by this key, or was altered, is ErrInvalid; so is a cursor of
// the other kind.
func TestSealedCursorsRefuse(t *testing.T) {
	c := mustCursors(t, testSecret)
	good := c.EncodeStream(StreamCursor{"syd1": {Time: time.Unix(1, 0)}})
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	for i := range raw {
		flipped := bytes.Clone(raw)
		flipped[i] ^= 0x01
		if _, err := c.DecodeStream(base64.RawURLEncoding.EncodeToString(flipped)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("byte %d altered: %v, want ErrInvalid", i, err)
		}
	}
	for name, s := range map[string]string{
		"unsealed stream cursor": EncodeStream(StreamCursor{"syd1": {Time: time.Unix(1, 0)}}),
		"unsealed offset":        EncodeOffset(3),
		"truncated":              good[:len(good)-4],
		"too short":              "AAAA",
		"not base64":             "%%%",
		"too long":               strings.Repeat("A", 9000),
		"offset as stream":       c.EncodeOffset(3),
	} {
		if _, err := c.DecodeStream(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeStream(%s) = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := c.DecodeOffset(good); !errors.Is(err, ErrInvalid) {
		t.Errorf("DecodeOffset(stream cursor) = %v, want ErrInvalid", err)
	}
	if _, err := NewCursors([]byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

// FuzzOpenCursor: whatever a client sends as a cursor, opening it never panics and fails only
// with ErrInvalid.
func FuzzOpenCursor(f *testing.F) {
	c := mustCursors(f, testSecret)
	f.Add(c.EncodeStream(StreamCursor{"syd1": {Time: time.Unix(0, 1_700_000_000_000_000_000), Skip: 2}}))
	f.Add(c.EncodeOffset(7))
	f.Add(EncodeStream(StreamCursor{"mel1": {Done: true}}))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := c.DecodeStream(s); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("DecodeStream(%q): %v is not ErrInvalid", s, err)
		}
		if _, err := c.DecodeOffset(s); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("DecodeOffset(%q): %v is not ErrInvalid", s, err)
		}
	})
}
