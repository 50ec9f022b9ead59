package upstream

import "testing"

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
