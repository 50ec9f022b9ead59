package resolvers

import (
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// L7: a rule's URL keeps its query string (and userinfo) only for those who may manage the
// rule; a TENANT_AUDITOR reading the list sees them redacted, and the service's rule is not
// changed by the redaction.
func TestWatchRuleURLRedactedForReaders(t *testing.T) {
	const secretURL = "https://hooks.example.net/in/contoso?token=s3cret&sig=abc#frag"
	tests := []struct {
		who  string
		p    *auth.Principal
		want string
	}{
		{"provider admin", admin, secretURL},
		{"tenant admin", contosoAdmin, secretURL},
		{"tenant auditor", contoso, "https://hooks.example.net/in/contoso?…#…"},
	}
	for _, tt := range tests {
		t.Run(tt.who, func(t *testing.T) {
			e, rules, _ := rulesEnv(t)
			rules.rules[ruleContoso].URL = secretURL
			got, err := e.r.Query().WatchRules(e.ctx(tt.p))
			if err != nil {
				t.Fatal(err)
			}
			var url string
			for _, r := range got {
				if r.ID == ruleContoso {
					url = r.URL
				}
			}
			if url != tt.want {
				t.Fatalf("url = %q, want %q", url, tt.want)
			}
			if rules.rules[ruleContoso].URL != secretURL {
				t.Fatalf("the service's rule was changed: %q", rules.rules[ruleContoso].URL)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://hooks.example.net/x", "https://hooks.example.net/x"},
		{"https://hooks.example.net:8443/a/b", "https://hooks.example.net:8443/a/b"},
		{"https://hooks.example.net/x?token=s3cret", "https://hooks.example.net/x?…"},
		{"https://hooks.example.net?token=s3cret", "https://hooks.example.net?…"},
		{"https://hooks.example.net/x?", "https://hooks.example.net/x?…"},
		{"https://user:pa55@hooks.example.net/x", "https://…@hooks.example.net/x"},
		{"https://user:pa55@hooks.example.net/x?k=v#f", "https://…@hooks.example.net/x?…#…"},
		{"https://hooks.example.net/p%2Fq?k=v", "https://hooks.example.net/p%2Fq?…"},
		{"http://[::1]:9000/hook?k=v", "http://[::1]:9000/hook?…"},
		{"%zz://bad?token=s3cret", "…"},
		{"mailto:someone?token=s3cret", "…"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, secret := range []string{"s3cret", "pa55", "k=v"} {
			if strings.Contains(RedactURL(tt.in), secret) {
				t.Errorf("RedactURL(%q) shows %q", tt.in, secret)
			}
		}
	}
}
