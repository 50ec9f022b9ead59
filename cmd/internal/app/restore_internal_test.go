package app

import (
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// restoreOrgs finds an organisation's restore.organizations[] entry only on its own server, by
// VBO id or name (case-insensitive); an entry without an id or name never matches on it.
func TestRestoreOrgs(t *testing.T) {
	t.Parallel()
	find := restoreOrgs([]config.RestoreOrg{
		{Server: "syd1", ID: "Org-1", Domains: []string{"by-id.example"}},
		{Server: "syd1", Name: "Contoso", Domains: []string{"by-name.example"}},
		{Server: "mel1", ID: "org-2", Name: "Fabrikam", Domains: []string{"mel.example"}},
	})
	cases := []struct {
		name, server, id, orgName string
		want                      string // the matched entry's domain; "" for no match
	}{
		{"id, any case", "syd1", "org-1", "", "by-id.example"},
		{"name, any case", "syd1", "x", "contoso", "by-name.example"},
		{"other server's id", "syd1", "org-2", "", ""},
		{"other server's name", "syd1", "x", "Fabrikam", ""},
		{"blank name matches no nameless entry", "syd1", "x", "", ""},
		{"unknown", "mel1", "org-9", "Nobody", ""},
		{"second server", "mel1", "ORG-2", "", "mel.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ok := find(tc.server, tc.id, tc.orgName)
			if ok != (tc.want != "") || ok && (len(s.Domains) != 1 || s.Domains[0] != tc.want) {
				t.Fatalf("restoreOrgs(%q, %q, %q) = %+v, %v; want %q", tc.server, tc.id, tc.orgName, s, ok, tc.want)
			}
		})
	}
}
