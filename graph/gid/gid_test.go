package gid

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestIDRoundTrip(t *testing.T) {
	uuid := "6f1c2a7e-3b9d-4c1e-9a55-0d8e2f4b7c10"
	tests := []ID{
		{Kind: KindServer, Server: "syd1"},
		{Kind: KindServer, Server: "vbo.prod-01_a"},
		{Kind: KindOrganization, Server: "syd1", Upstream: uuid},
		{Kind: KindRestoreSession, Server: "mel1", Upstream: uuid},
		{Kind: KindRestoreEvent, Server: "akl1", Parent: uuid, Upstream: "0f000000-0000-0000-0000-000000000001"},
		{Kind: KindDetachedOrganization, Server: "syd1", Upstream: "Contoso: Ltd (old) ünïcode"},
		{Kind: KindServer, Server: strings.Repeat("s", 64)},
		{Kind: KindOrganization, Server: "s", Upstream: strings.Repeat("A", 64)},
	}
	for _, id := range tests {
		s := id.String()
		if strings.ContainsAny(s, "+/=") {
			t.Errorf("%+v encodes to %q: not unpadded base64url", id, s)
		}
		got, err := Parse(s)
		if err != nil || got != id {
			t.Errorf("Parse(%+v.String()) = %+v, %v", id, got, err)
		}
		if got, err := ParseKind(s, id.Kind); err != nil || got != id {
			t.Errorf("ParseKind(%+v) = %+v, %v", id, got, err)
		}
		other := KindServer
		if id.Kind == KindServer {
			other = KindOrganization
		}
		if _, err := ParseKind(s, other); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseKind(%+v, %s) = %v, want ErrInvalid", id, other, err)
		}
	}
	// Padding is tolerated (some clients pad base64).
	id := ID{Kind: KindServer, Server: "ab"}
	if got, err := Parse(id.String() + "=="); err != nil || got != id {
		t.Errorf("padded: %+v, %v", got, err)
	}
}

func TestParseInvalid(t *testing.T) {
	uuid := "6f1c2a7e-3b9d-4c1e-9a55-0d8e2f4b7c10"
	tests := map[string]string{
		"empty":                "",
		"too long":             strings.Repeat("A", 1025),
		"not base64":           "%%%",
		"std base64 chars":     "ab+/cd",
		"junk text":            enc("hello world"),
		"unknown kind":         enc("Widget:syd1:" + uuid),
		"kind only":            enc("VboServer"),
		"empty server":         enc("VboServer:"),
		"server with space":    enc("VboServer:sy d1"),
		"server with colon":    enc("VboServer:syd1:x"),
		"server too long":      enc("VboServer:" + strings.Repeat("s", 65)),
		"org without id":       enc("Organization:syd1"),
		"org empty id":         enc("Organization:syd1:"),
		"org id with slash":    enc("Organization:syd1:a/b"),
		"org id with colon":    enc("Organization:syd1:a:b"),
		"org id too long":      enc("Organization:syd1:" + strings.Repeat("a", 65)),
		"session bad server":   enc("RestoreSession:s/1:" + uuid),
		"session id dots":      enc("RestoreSession:syd1:../etc"),
		"event without parent": enc("RestoreEvent:syd1:" + uuid),
		"event extra part":     enc("RestoreEvent:syd1:" + uuid + ":" + uuid + ":x"),
		"event empty ids":      enc("RestoreEvent:syd1::"),
		"detached empty name":  enc("DetachedOrganization:syd1:"),
		"detached bad utf8":    enc("DetachedOrganization:syd1:\xff\xfe"),
		"detached long name":   enc("DetachedOrganization:syd1:" + strings.Repeat("n", 257)),
		"lower-case kind":      enc("vboserver:syd1"),
		"nul in server":        enc("VboServer:syd\x001"),
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			id, err := Parse(s)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q) = %+v, %v; want ErrInvalid", s, id, err)
			}
		})
	}
}

func TestValidNames(t *testing.T) {
	for s, want := range map[string]bool{"syd1": true, "a.b_c-d": true, "": false, "a b": false, "ä": false,
		strings.Repeat("x", 64): true, strings.Repeat("x", 65): false, "a/b": false} {
		if got := ValidServerName(s); got != want {
			t.Errorf("ValidServerName(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{"6f1c2a7e-3b9d": true, "abc": true, "a_b": false, "a.b": false, "": false,
		strings.Repeat("f", 64): true, strings.Repeat("f", 65): false} {
		if got := ValidUpstreamID(s); got != want {
			t.Errorf("ValidUpstreamID(%q) = %v", s, got)
		}
	}
}

func TestOffsetCursor(t *testing.T) {
	for _, n := range []int{0, 1, 49, 500, 1 << 30} {
		c := EncodeOffset(n)
		if got, err := DecodeOffset(c); err != nil || got != n {
			t.Errorf("DecodeOffset(EncodeOffset(%d)) = %d, %v", n, got, err)
		}
	}
	if n, err := DecodeOffset(""); n != 0 || err != nil {
		t.Errorf(`DecodeOffset("") = %d, %v`, n, err)
	}
	bad := []string{"!!", enc("o1:"), enc("o1:-1"), enc("o1:x"), enc("o1:1073741825"), enc("o2:1"), enc("1"),
		EncodeStream(StreamCursor{"syd1": {Time: time.Unix(1, 0)}}), enc("o1:99999999999999999999"), strings.Repeat("A", 9000)}
	for _, s := range bad {
		if n, err := DecodeOffset(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeOffset(%q) = %d, %v; want ErrInvalid", s, n, err)
		}
	}
}

func TestStreamCursor(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 59, 1, 123456700, time.UTC)
	tests := []StreamCursor{
		{},
		{"syd1": {Time: t0, Skip: 0}},
		{"syd1": {Time: t0, Skip: 3}, "mel1": {Done: true}, "akl1": {Time: time.Unix(0, 1).UTC(), Skip: 1}},
		{"a": {Time: time.Unix(0, -5).UTC(), Skip: 1 << 20}},
	}
	for _, c := range tests {
		s := EncodeStream(c)
		got, err := DecodeStream(s)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("round trip %v: %q -> %v, %v", c, s, got, err)
		}
		if EncodeStream(got) != s {
			t.Errorf("encoding of %v is not deterministic", c)
		}
	}
	// Position times come back in UTC whatever zone they were encoded in.
	loc := time.FixedZone("AEDT", 11*3600)
	got, err := DecodeStream(EncodeStream(StreamCursor{"syd1": {Time: t0.In(loc), Skip: 2}}))
	if err != nil || !got["syd1"].Time.Equal(t0) || got["syd1"].Time.Location() != time.UTC {
		t.Errorf("zoned time: %v, %v", got, err)
	}
	if c, err := DecodeStream(""); err != nil || len(c) != 0 || c == nil {
		t.Errorf(`DecodeStream("") = %v, %v`, c, err)
	}
	var many strings.Builder
	many.WriteString("s1:")
	for i := range 257 {
		if i > 0 {
			many.WriteByte(';')
		}
		many.WriteString("s" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + itoa(i) + "=-")
	}
	bad := []string{"!!", enc("s1:syd1"), enc("s1:syd1=1"), enc("s1:syd1=x,0"), enc("s1:syd1=1,-1"),
		enc("s1:syd1=1,1048577"), enc("s1:sy d1=1,0"), enc("s1:=1,0"), enc("s1:syd1=-;syd1=-"), enc("s1:syd1=1,0;"),
		enc("s2:syd1=-"), enc("o1:3"), EncodeOffset(3), enc(many.String()), enc("s1:syd1=99999999999999999999,0")}
	for _, s := range bad {
		if c, err := DecodeStream(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeStream(%q) = %v, %v; want ErrInvalid", s, c, err)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// ---- fuzzing: never panic; whatever decodes re-encodes to something that decodes the same ----

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"", "!!", enc("VboServer:syd1"), enc("Organization:syd1:abc"),
		enc("RestoreEvent:syd1:a-b:c-d"), enc("DetachedOrganization:x:Some Name"), enc("RestoreSession:syd1:"),
		ID{Kind: KindRestoreSession, Server: "mel1", Upstream: "6f1c2a7e-3b9d-4c1e-9a55-0d8e2f4b7c10"}.String(),
		enc("RestoreEvent:s:::"), enc("DetachedOrganization:s:\xff")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		again, err := Parse(id.String())
		if err != nil || again != id {
			t.Fatalf("Parse(%q) = %+v, but its String %q parses to %+v, %v", s, id, id.String(), again, err)
		}
	})
}

func FuzzDecodeStream(f *testing.F) {
	f.Add("")
	f.Add(EncodeStream(StreamCursor{"syd1": {Time: time.Unix(0, 1_700_000_000_000_000_000), Skip: 2}, "mel1": {Done: true}}))
	f.Add(enc("s1:"))
	f.Add(enc("s1:a=1,0;b=-;c=-9,7"))
	f.Add(enc("s1:a=1,0;a=2,0"))
	f.Add(EncodeOffset(4))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeStream(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeStream(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		again, err := DecodeStream(EncodeStream(c))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("DecodeStream(%q) = %v, re-encoded decodes to %v, %v", s, c, again, err)
		}
	})
}

func FuzzDecodeOffset(f *testing.F) {
	f.Add("")
	f.Add(EncodeOffset(0))
	f.Add(EncodeOffset(12345))
	f.Add(enc("o1:-1"))
	f.Add(enc("o1:+7"))
	f.Fuzz(func(t *testing.T, s string) {
		n, err := DecodeOffset(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeOffset(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("DecodeOffset(%q) = %d", s, n)
		}
		if again, err := DecodeOffset(EncodeOffset(n)); err != nil || again != n {
			t.Fatalf("offset %d does not round trip: %d, %v", n, again, err)
		}
	})
}

// TestEncodingAllocates: an ID and an unsealed cursor cost one allocation each (the string).
func TestEncodingAllocates(t *testing.T) {
	id := ID{Kind: KindRestoreEvent, Server: "syd1", Parent: "6f1c2a7e-3b9d-4c1e-9a55-0d8e2f4b7c10", Upstream: "0f000000-0000-0000-0000-000000000001"}
	sc := StreamCursor{"syd1": {Time: time.Unix(1700000000, 5), Skip: 2}, "mel1": {Done: true}, "akl1": {Time: time.Unix(1700000001, 0)}}
	for name, f := range map[string]func(){
		"ID.String":    func() { _ = id.String() },
		"EncodeOffset": func() { _ = EncodeOffset(12345) },
		"EncodeStream": func() { _ = EncodeStream(sc) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 1 {
			t.Errorf("%s: %.0f allocations, want 1", name, n)
		}
	}
}
