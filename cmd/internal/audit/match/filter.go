package match

import (
	"slices"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// Filter is a compiled RestoreSessionFilter with the GraphQL list's semantics: every given
// condition must hold; substrings are case-insensitive; organisation IDs are global IDs.
type Filter struct {
	f       *model.RestoreSessionFilter // a copy: its MatchesStart and MatchesAttributes
	orgs    map[orgKey]bool             // nil: any organisation
	servers []string                    // nil: any server
}

type orgKey struct{ server, id string }

// CompileFilter validates f (nil matches everything). A malformed organisation ID is an error
// wrapping gid.ErrInvalid.
func CompileFilter(f *model.RestoreSessionFilter) (*Filter, error) {
	c := &Filter{}
	if f == nil {
		return c, nil
	}
	if f.StartTimeFrom != nil && f.StartTimeTo != nil && f.StartTimeFrom.After(*f.StartTimeTo) {
		return nil, &model.InputError{Field: "filter.startTimeFrom", Msg: "is after filter.startTimeTo"}
	}
	copied := *f
	c.f = &copied
	if f.OrganizationIds != nil {
		c.orgs = map[orgKey]bool{}
		for _, raw := range f.OrganizationIds {
			id, err := gid.ParseKind(raw, gid.KindOrganization)
			if err != nil {
				return nil, &model.InputError{Field: "filter.organizationIds", Msg: "holds an invalid organisation ID", Err: err}
			}
			c.orgs[orgKey{id.Server, strings.ToLower(id.Upstream)}] = true
		}
	}
	if f.Servers != nil {
		c.servers = slices.Clone(f.Servers)
	}
	return c, nil
}

// Match reports whether s satisfies the filter.
func (c *Filter) Match(s *Session) bool {
	u := &s.Upstream
	if !c.f.MatchesStart(u) {
		return false
	}
	if c.servers != nil && !slices.Contains(c.servers, s.Server) {
		return false
	}
	if c.orgs != nil && (s.OrgID == "" || !c.orgs[orgKey{s.Server, strings.ToLower(s.OrgID)}]) {
		return false
	}
	return c.f.MatchesAttributes(u)
}
