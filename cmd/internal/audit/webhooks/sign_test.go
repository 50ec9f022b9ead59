package webhooks

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The specification's published example (also in the Standard Webhooks libraries' tests).
func TestSignatureMatchesSpecificationExample(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
}

func TestSecretRoundTripAndRedaction(t *testing.T) {
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	shown := s.Reveal()
	if !strings.HasPrefix(shown, "whsec_") {
		t.Fatalf("secret %q lacks whsec_", shown)
	}
	back, err := ParseSecret(shown)
	if err != nil {
		t.Fatal(err)
	}
	if back.Reveal() != shown {
		t.Fatal("parse(reveal(s)) != s")
	}
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, shown[len("whsec_"):]) {
			t.Errorf("%s prints the key: %s", verb, out)
		}
	}
	other, _ := NewSecret()
	if other.Reveal() == shown {
		t.Fatal("two new secrets are equal")
	}
}

func TestParseSecretRefusesBadInput(t *testing.T) {
	for _, in := range []string{
		"",
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  // no prefix
		"whsec_",                            // empty
		"whsec_not base64!",                 // not base64
		"whsec_AAAA",                        // 3 bytes: too short
		"whsec_" + strings.Repeat("A", 120), // 90 bytes: too long
	} {
		if _, err := ParseSecret(in); !errors.Is(err, ErrBadSecret) {
			t.Errorf("ParseSecret(%q) = %v, want ErrBadSecret", in, err)
		}
	}
}

// The Standard Webhooks Go library, as an independent verifier, accepts what SetHeaders
// produces; during rotation each of the old and new secrets verifies on its own, and an
// unrelated secret or a changed body does not.
func TestHeadersVerifyWithStandardWebhooksLibrary(t *testing.T) {
	oldKey, _ := NewSecret()
	newKey, _ := NewSecret()
	stranger, _ := NewSecret()
	body := []byte(`{"type":"restore.session.ended","data":{"id":"x"}}`)
	now := time.Now()
	tests := []struct {
		name     string
		signWith []Secret
		verifier Secret
		body     []byte
		ok       bool
	}{
		{"one key", []Secret{oldKey}, oldKey, body, true},
		{"rotation: old verifies", []Secret{newKey, oldKey}, oldKey, body, true},
		{"rotation: new verifies", []Secret{newKey, oldKey}, newKey, body, true},
		{"unrelated secret", []Secret{newKey, oldKey}, stranger, body, false},
		{"tampered body", []Secret{oldKey}, oldKey, []byte(`{"type":"restore.session.ended","data":{"id":"y"}}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			SetHeaders(h, tt.signWith, "msg_abc", now, body)
			if n := len(strings.Fields(h.Get(HeaderSignature))); n != len(tt.signWith) {
				t.Fatalf("%d signatures, want %d", n, len(tt.signWith))
			}
			wh, err := standardwebhooks.NewWebhook(tt.verifier.Reveal())
			if err != nil {
				t.Fatal(err)
			}
			err = wh.Verify(tt.body, h)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
