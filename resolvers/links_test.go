package resolvers

import (
	"testing"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestLinksTo(t *testing.T) {
	const sid = "5f3c2b1a-0d9e-4f8a-b7c6-d5e4f3a2b1c0"
	tests := []struct {
		name  string
		links upstream.Links
		want  bool
	}{
		{"no links", nil, false},
		{"self under the session", upstream.Links{"self": {Href: "/v6/RestoreSessions/" + sid + "/Events/e1"}}, true},
		{"lower-case href", upstream.Links{"self": {Href: "/v6/restoresessions/" + sid + "/events/e1"}}, true},
		{"restoreSession link", upstream.Links{"restoreSession": {Href: "/v6/RestoreSessions/" + sid}}, true},
		{"another session", upstream.Links{"self": {Href: "/v6/RestoreSessions/6a4d3c2b-1e0f-4a9b-8c7d-e6f5a4b3c2d1/Events/e1"}}, false},
		{"a longer id sharing the prefix", upstream.Links{"self": {Href: "/v6/RestoreSessions/" + sid + "ff/Events/e1"}}, false},
		{"unrelated links only", upstream.Links{"other": {Href: "/v6/Jobs/1"}}, false},
		{"empty self link", upstream.Links{"self": {Href: ""}}, false},
		{"self elsewhere, restoreSession here", upstream.Links{"self": {Href: "/v6/Events/e1"}, "restoreSession": {Href: "/v6/RestoreSessions/" + sid}}, true},
	}
	for _, tt := range tests {
		if got := linksTo(tt.links, sid); got != tt.want {
			t.Errorf("%s: linksTo = %v, want %v", tt.name, got, tt.want)
		}
	}
}
