package upstream

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// How a restore session is tied to its organisation.
//
// VBO's REST API (v6 to v8, per its OpenAPI documents) records a restore session's organisation
// by name only: RESTRestoreSession.organization is the "Name of the Microsoft 365
// organization". A session has no organisation id, GET /RestoreSessions has no organisation
// filter, and the one by-id link (GET /RestoreSessions/{id}/organization) answers only while
// the session's backup database is open for exploring, one call per session. The join is
// therefore the session's organisation name against Organization.name on the same server.
//
// The documents do not say that the name on a session keeps the organisation's exact case, and
// Microsoft 365 organisation names (tenant domains such as contoso.onmicrosoft.com) are
// case-insensitive, so the gateway compares names without regard to case. A name that matches
// several organisations of one server (identical names, or names differing only in case, e.g.
// "Contoso" and "contoso", or "Star Ltd" and "ſtar Ltd") cannot be resolved: the session is
// ambiguous and belongs to none of them, so no tenant sees it (provider admins do, flagged),
// and the tenants owning them are told (Organization.nameAmbiguous). A name matching no
// organisation is detached (the organisation was deleted or renamed since).

// OrgNameKey is the form in which organisation names are compared, everywhere they are (the
// join, the resolvers' scope, the watcher, the tenant directory): Unicode canonical caseless
// matching (Unicode 15 §3.13, D145: full case folding of the canonical decomposition), so that
// every case variant of a name collides with it. strings.ToLower is not enough: it leaves
// U+017F (ſ, which upper-cases to S) and the final sigma apart from their folded forms, and
// does not expand ß or the ligatures, so a neighbour could rename its organisation to a
// variant of another's name that VBO (or its database) may treat as equal while the gateway
// did not see a collision. Names that are all ASCII, the common case, are only lower-cased.
func OrgNameKey(name string) string {
	if isASCII(name) {
		return strings.ToLower(name)
	}
	// NFD first so that a precomposed letter folds as its decomposition does (U+0345's case);
	// NFC last so canonically equivalent spellings give one key. cases.Caser is not safe for
	// concurrent use: one per call.
	folded := cases.Fold().String(norm.NFD.String(name))
	return norm.NFC.String(strings.Map(cherokeeFold, folded))
}

// cherokeeFold corrects cases.Fold for Cherokee (golang/go#46101, open): CaseFolding.txt folds
// the small letters (added in Unicode 8) to the capitals, but cases.Fold swaps the two, so
// "Ꭰ" and "ꭰ" would get different keys. After cases.Fold, every Cherokee letter becomes its
// capital, as the standard folds it.
func cherokeeFold(r rune) rune {
	if r >= 0xAB70 && r <= 0xABBF || r >= 0x13F8 && r <= 0x13FD {
		return unicode.ToUpper(r)
	}
	return r
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// OrgJoin is one server's organisations indexed by name, for joining sessions to them.
type OrgJoin struct {
	byName map[string][]int
	orgs   []Organization
}

// NewOrgJoin indexes a server's organisations by name.
func NewOrgJoin(orgs []Organization) OrgJoin {
	j := OrgJoin{byName: make(map[string][]int, len(orgs)), orgs: orgs}
	for i := range orgs {
		k := OrgNameKey(orgs[i].Name)
		j.byName[k] = append(j.byName[k], i)
	}
	return j
}

// Lookup returns the organisation a session naming name belongs to. nil with ambiguous false:
// no organisation has that name (detached); nil with ambiguous true: several have it, and the
// session belongs to none of them.
func (j OrgJoin) Lookup(name string) (org *Organization, ambiguous bool) {
	switch ix := j.byName[OrgNameKey(name)]; len(ix) {
	case 0:
		return nil, false
	case 1:
		return &j.orgs[ix[0]], false
	}
	return nil, true
}

// Ambiguous reports whether several organisations carry name.
func (j OrgJoin) Ambiguous(name string) bool { return len(j.byName[OrgNameKey(name)]) > 1 }
