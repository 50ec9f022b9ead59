package upstream

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

// Sessions join organisations by name, regardless of case; a name several organisations carry
// (identical, or differing only in case) is ambiguous, one no organisation carries is detached.
func TestOrgJoin(t *testing.T) {
	j := NewOrgJoin([]Organization{{ID: "1", Name: "Contoso"}, {ID: "2", Name: "contoso"},
		{ID: "3", Name: "Fabrikam"}, {ID: "4", Name: "Twin"}, {ID: "5", Name: "Twin"}})
	for _, tc := range []struct {
		name      string
		id        string
		ambiguous bool
	}{
		{"Fabrikam", "3", false}, {"FABRIKAM", "3", false}, {"Contoso", "", true}, {"CONTOSO", "", true},
		{"Twin", "", true}, {"Gone Ltd", "", false}, {"", "", false},
	} {
		o, amb := j.Lookup(tc.name)
		id := ""
		if o != nil {
			id = o.ID
		}
		if id != tc.id || amb != tc.ambiguous || j.Ambiguous(tc.name) != tc.ambiguous {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.name, id, amb, tc.id, tc.ambiguous)
		}
	}
}

// Issue 20 M3/L6: names that differ only by Unicode case folding collide, so a neighbour that
// renames its organisation to a case variant of another's (long s U+017F, the Kelvin sign
// U+212A, ß, a decomposed accent) makes the name ambiguous instead of taking or leaving the
// other's sessions; whatever case variant a session records resolves the same way.
func TestOrgJoinUnicodeCaseFolding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, victim, neighbour string
		sessions                []string // names sessions may record; each must be ambiguous
	}{
		{"long s", "Star Ltd", "ſtar Ltd", []string{"Star Ltd", "ſtar Ltd", "STAR LTD", "star ltd", "ſTAR LTD"}},
		{"long s inside", "Kiosk Ltd", "Kioſk Ltd", []string{"Kiosk Ltd", "KIOSK LTD", "kioſk ltd"}},
		{"Kelvin sign", "Kelvin Ltd", "\u212Aelvin Ltd", []string{"Kelvin Ltd", "\u212Aelvin Ltd", "KELVIN LTD", "kelvin ltd"}},
		{"Kelvin sign and long s", "Kiosk Ltd", "\u212Aioſk Ltd", []string{"Kiosk Ltd", "\u212Aioſk Ltd", "kiosk ltd", "KIOSK LTD"}},
		{"sharp s", "Strasse AG", "Straße AG", []string{"STRASSE AG", "straße ag", "STRAẞE AG"}},
		{"decomposed accent", "Café Ltd", "Cafe\u0301 Ltd", []string{"CAFÉ LTD", "cafe\u0301 ltd", "Café Ltd"}},
		{"final sigma", "ΟΔΟΣ", "οδος", []string{"Οδος", "οδοσ", "ΟΔΟΣ"}},
		{"Cherokee (golang/go#46101)", "ᏣᎳᎩ", "ꮳꮃꭹ", []string{"Ꮳꮃꭹ", "ᏣᎳᎩ", "ꮳꮃꭹ"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := NewOrgJoin([]Organization{{ID: "victim", Name: tc.victim}, {ID: "neighbour", Name: tc.neighbour}, {ID: "other", Name: "Other Ltd"}})
			for _, name := range append([]string{tc.victim, tc.neighbour}, tc.sessions...) {
				if o, amb := j.Lookup(name); o != nil || !amb || !j.Ambiguous(name) {
					t.Errorf("Lookup(%q) = %v, %v (Ambiguous %v); want no organisation, ambiguous: %q and %q differ only in case",
						name, o, amb, j.Ambiguous(name), tc.victim, tc.neighbour)
				}
			}
			// Alone on its server, the victim is found by every variant (no false "detached").
			alone := NewOrgJoin([]Organization{{ID: "victim", Name: tc.victim}})
			for _, name := range append([]string{tc.neighbour}, tc.sessions...) {
				if o, amb := alone.Lookup(name); o == nil || o.ID != "victim" || amb {
					t.Errorf("alone: Lookup(%q) = %v, %v; want the organisation named %q", name, o, amb, tc.victim)
				}
			}
			if o, amb := j.Lookup("Other Ltd"); o == nil || o.ID != "other" || amb {
				t.Errorf("Lookup(Other Ltd) = %v, %v; want the unrelated organisation", o, amb)
			}
		})
	}
}

// Every pair of runes strings.EqualFold takes for one another (each orbit of unicode.SimpleFold)
// gives one OrgNameKey, alone and inside a name, and the key of a key is itself (the watcher
// and the resolvers may fold a name twice).
func TestOrgNameKeyFoldsEveryOrbit(t *testing.T) {
	t.Parallel()
	for r := rune(0); r <= unicode.MaxRune; r++ {
		f := unicode.SimpleFold(r)
		if f == r || !utf8.ValidRune(r) {
			continue
		}
		for _, wrap := range []func(rune) string{
			func(x rune) string { return string(x) },
			func(x rune) string { return "Org " + string(x) + " Ltd" },
		} {
			a, b := OrgNameKey(wrap(r)), OrgNameKey(wrap(f))
			if a != b {
				t.Errorf("OrgNameKey(%q) = %q, OrgNameKey(%q) = %q; want one key (strings.EqualFold takes them for each other)", wrap(r), a, wrap(f), b)
			}
			if again := OrgNameKey(a); again != a {
				t.Errorf("OrgNameKey(OrgNameKey(%q)) = %q, want %q", wrap(r), again, a)
			}
		}
	}
}
