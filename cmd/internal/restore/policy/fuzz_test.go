package policy_test

import (
	"net/mail"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/policy"
)

// FuzzAddresses: whatever a recipient or a target the policy accepts, what it hands on is one
// plain ASCII address with one @, in the organisation's (or an allowed) domain, that reads
// back as itself: no other parser can find another domain in it.
func FuzzAddresses(f *testing.F) {
	for _, s := range []string{"a@contoso.com", "Bob <b@contoso.com>", `"x@evil.example"@contoso.com`, `"a b"@contoso.com`,
		"b@contoso.com (x@evil.example)", "a%evil.example@contoso.com", "x@partner.example", "https://contoso.sharepoint.com/x"} {
		f.Add(s)
	}
	p, err := policy.New(policy.Settings{MaxItemsPerAction: 1, StepUpMaxAge: 1, DefaultApprovalExpiry: 1, AllowedRecipientDomains: []string{"partner.example"}})
	if err != nil {
		f.Fatal(err)
	}
	check := func(t *testing.T, what, addr string, domains ...string) {
		t.Helper()
		at := strings.IndexByte(addr, '@')
		a, err := mail.ParseAddress(addr)
		if at <= 0 || strings.Count(addr, "@") != 1 || err != nil || a.Address != addr || a.Name != "" {
			t.Fatalf("%s %q is not one plain address (%v)", what, addr, err)
		}
		for _, r := range addr {
			if r > 0x7e || r <= 0x20 || strings.ContainsRune(`"\%!;,<>()[]:`, r) {
				t.Fatalf("%s %q holds %q", what, addr, r)
			}
		}
		for _, d := range domains {
			if addr[at+1:] == d {
				return
			}
		}
		t.Fatalf("%s %q is outside %v", what, addr, domains)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if got, err := p.CheckRecipients("", contoso, []string{raw}); err == nil {
			check(t, "recipient", got[0], append(contoso.Domains(), "partner.example")...)
		}
		if got, err := policy.CheckTarget(contoso, raw); err == nil && !strings.Contains(got, "://") {
			check(t, "target", got, contoso.Domains()...)
		}
	})
}
