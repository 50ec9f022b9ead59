package gid

import (
	"errors"
	"testing"
)

func TestKeysetCursors(t *testing.T) {
	c := NewRandomCursors()
	s := c.EncodeKeyset("wd", "1700000000:wd_abc")
	if got, err := c.DecodeKeyset("wd", s); err != nil || got != "1700000000:wd_abc" {
		t.Fatalf("round trip: %q %v", got, err)
	}
	if got, err := c.DecodeKeyset("wd", ""); err != nil || got != "" {
		t.Fatalf("empty: %q %v", got, err)
	}
	for name, bad := range map[string]string{
		"another list":     c.EncodeKeyset("xx", "1:wd_abc"),
		"an offset cursor": c.EncodeOffset(3),
		"another gateway":  NewRandomCursors().EncodeKeyset("wd", "1:wd_abc"),
		"plain text":       "k1:wd:1:wd_abc",
	} {
		if _, err := c.DecodeKeyset("wd", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
