package upstream

import "strings"

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
// "Contoso" and "contoso") cannot be resolved: the session is ambiguous and belongs to none of
// them, so no tenant sees it (provider admins do, flagged). A name matching no organisation is
// detached (the organisation was deleted or renamed since).

// OrgNameKey is the form in which organisation names are compared.
func OrgNameKey(name string) string { return strings.ToLower(name) }

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
