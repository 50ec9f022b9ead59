package gid

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// MinCursorSecret is the shortest secret NewCursors accepts, in bytes.
const MinCursorSecret = 32

// cursorAD binds a sealed text to its use: a cursor sealed by this gateway for this purpose.
var cursorAD = []byte("vbo-gateway cursor v1")

// Cursors seals the cursors the gateway hands out (XChaCha20-Poly1305, a random nonce per
// cursor) and opens the ones clients send back. A client can neither read a cursor (a stream
// position may lie on another tenant's session, whose creation time it must not learn) nor
// forge or alter one: anything that does not open is ErrInvalid.
//
// Cursors sealed under one key open only under that key. With a configured secret (the same on
// every replica) cursors survive restarts and work across replicas; with NewRandomCursors they
// work in this process only and expire when it stops.
type Cursors struct {
	aead cipher.AEAD
}

// NewCursors derives the sealing key from secret (at least MinCursorSecret bytes; HKDF-SHA256).
func NewCursors(secret []byte) (*Cursors, error) {
	if len(secret) < MinCursorSecret {
		return nil, fmt.Errorf("cursor secret: at least %d bytes, got %d", MinCursorSecret, len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "vbo-gateway cursor key v1", chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	return newCursors(key)
}

// NewRandomCursors seals under a key drawn for this process only.
func NewRandomCursors() *Cursors {
	key := make([]byte, chacha20poly1305.KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (it crashes the program instead)
	c, err := newCursors(key)
	if err != nil {
		panic(err) // unreachable: the key has the right size
	}
	return c
}

func newCursors(key []byte) (*Cursors, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	return &Cursors{aead: aead}, nil
}

// seal encrypts text under a fresh random nonce: nonce || ciphertext, base64url. Two
// allocations: the sealed bytes and the string.
func (c *Cursors) seal(text []byte) string {
	buf := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(text)+c.aead.Overhead())
	_, _ = rand.Read(buf)
	return base64String(c.aead.Seal(buf, buf, text, cursorAD))
}

// ErrCursorUnsealed: a cursor that does not open under this gateway's key: altered, made up,
// sealed by a gateway with another key, or (without a configured key) from before a restart.
var ErrCursorUnsealed = errors.New("cursor does not open")

func (c *Cursors) open(s string) (string, error) {
	raw, err := unbase64(s)
	if err != nil {
		return "", err
	}
	n := c.aead.NonceSize()
	if len(raw) < n+c.aead.Overhead() {
		return "", fmt.Errorf("%w: %w", ErrInvalid, ErrCursorUnsealed)
	}
	text, err := c.aead.Open(nil, []byte(raw[:n]), []byte(raw[n:]), cursorAD)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, ErrCursorUnsealed)
	}
	return string(text), nil
}

// EncodeOffset seals an offset cursor; n is the number of items before the next page.
func (c *Cursors) EncodeOffset(n int) string {
	var stack [32]byte
	return c.seal(appendOffsetText(stack[:0], n))
}

// DecodeOffset opens an offset cursor; "" means the start.
func (c *Cursors) DecodeOffset(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	text, err := c.open(s)
	if err != nil {
		return 0, err
	}
	return parseOffset(text)
}

// EncodeStream seals a stream cursor.
func (c *Cursors) EncodeStream(sc StreamCursor) string {
	var stack [256]byte
	return c.seal(appendStreamText(stack[:0], sc))
}

// DecodeStream opens a stream cursor; "" means every server starts at the top.
func (c *Cursors) DecodeStream(s string) (StreamCursor, error) {
	if s == "" {
		return StreamCursor{}, nil
	}
	text, err := c.open(s)
	if err != nil {
		return nil, err
	}
	return parseStream(text)
}

// EncodeKeyset seals the position in a list kept in the gateway's store (webhook deliveries):
// kind names the list, key is the list's own keyset text.
func (c *Cursors) EncodeKeyset(kind, key string) string {
	var stack [256]byte
	text := append(append(append(append(stack[:0], "k1:"...), kind...), ':'), key...)
	return c.seal(text)
}

// DecodeKeyset opens a keyset cursor of list kind; "" means the start. A cursor of another
// kind of list is invalid.
func (c *Cursors) DecodeKeyset(kind, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	text, err := c.open(s)
	if err != nil {
		return "", err
	}
	key, ok := strings.CutPrefix(text, "k1:"+kind+":")
	if !ok {
		return "", fmt.Errorf("%w: not a %s cursor", ErrInvalid, kind)
	}
	return key, nil
}
