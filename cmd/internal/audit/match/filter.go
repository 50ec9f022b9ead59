package match

import (
	"slices"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// Filter is a compiled RestoreSessionFilter with the GraphQL list's semantics: every given
// condition must hold; substrings are case-insensitive; organisation IDs are global IDs.
type Filter struct {
	from, to    *time.Time
	orgs        map[orgKey]bool // nil: any organisation
	servers     []string        // nil: any server
	types       []model.RestoreSessionType
	states      []model.RestoreSessionState
	results     []model.RestoreSessionResult
	initiatedBy string
	clientHost  string
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
		return nil, &InputError{Field: "filter.startTimeFrom", Msg: "is after filter.startTimeTo"}
	}
	c.from, c.to = f.StartTimeFrom, f.StartTimeTo
	if f.OrganizationIds != nil {
		c.orgs = map[orgKey]bool{}
		for _, raw := range f.OrganizationIds {
			id, err := gid.ParseKind(raw, gid.KindOrganization)
			if err != nil {
				return nil, &InputError{Field: "filter.organizationIds", Msg: "holds an invalid organisation ID", Err: err}
			}
			c.orgs[orgKey{id.Server, strings.ToLower(id.Upstream)}] = true
		}
	}
	if f.Servers != nil {
		c.servers = slices.Clone(f.Servers)
	}
	c.types, c.states, c.results = f.Types, f.States, f.Results
	if f.InitiatedBy != nil {
		c.initiatedBy = strings.ToLower(*f.InitiatedBy)
	}
	if f.ClientHost != nil {
		c.clientHost = strings.ToLower(*f.ClientHost)
	}
	return c, nil
}

// Match reports whether s satisfies the filter.
func (c *Filter) Match(s *Session) bool {
	u := &s.Upstream
	if c.from != nil && u.CreationTime.Before(*c.from) || c.to != nil && u.CreationTime.After(*c.to) {
		return false
	}
	if c.servers != nil && !slices.Contains(c.servers, s.Server) {
		return false
	}
	if c.orgs != nil && (s.OrgID == "" || !c.orgs[orgKey{s.Server, strings.ToLower(s.OrgID)}]) {
		return false
	}
	if len(c.types) > 0 && !slices.Contains(c.types, model.SessionTypeFromVBO(u.Type)) {
		return false
	}
	if len(c.states) > 0 && !slices.Contains(c.states, model.SessionStateFromVBO(u.State)) {
		return false
	}
	if len(c.results) > 0 && !slices.Contains(c.results, model.SessionResultFromVBO(u.Result)) {
		return false
	}
	if c.initiatedBy != "" && !strings.Contains(strings.ToLower(u.InitiatedBy), c.initiatedBy) {
		return false
	}
	if c.clientHost != "" && !strings.Contains(strings.ToLower(s.ClientHost().MachineName), c.clientHost) &&
		!strings.Contains(strings.ToLower(u.ClientHost), c.clientHost) {
		return false
	}
	return true
}

// InputError is a rule or filter the caller must fix; Field names it.
type InputError struct {
	Field string
	Msg   string
	Err   error
}

func (e *InputError) Error() string { return e.Field + " " + e.Msg }

func (e *InputError) Unwrap() error { return e.Err }
