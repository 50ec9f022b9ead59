package model

import (
	"slices"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// HasAttributes reports whether the filter asks for any condition the gateway checks itself
// (types, states, results, initiatedBy, clientHost), beyond the start-time window VBO applies
// and the organisation and server conditions the scope applies.
func (f *RestoreSessionFilter) HasAttributes() bool {
	return f != nil && (len(f.Types) > 0 || len(f.States) > 0 || len(f.Results) > 0 ||
		f.InitiatedBy != nil && *f.InitiatedBy != "" || f.ClientHost != nil && *f.ClientHost != "")
}

// MatchesAttributes is the one definition of the filter's session conditions (types, states,
// results, initiatedBy and clientHost as case-insensitive substrings). The live queries and
// subscriptions (resolvers), the watch rules (cmd/internal/audit/match) and, held to it by a
// differential test, the restore audit's SQL all use it. A nil filter matches every session.
// It does not check the start-time window, organisations or servers: callers apply those
// where they are cheapest (VBO's query, the scope, the archive's index).
func (f *RestoreSessionFilter) MatchesAttributes(s *upstream.RestoreSession) bool {
	if f == nil {
		return true
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, SessionTypeFromVBO(s.Type)) {
		return false
	}
	if len(f.States) > 0 && !slices.Contains(f.States, SessionStateFromVBO(s.State)) {
		return false
	}
	if len(f.Results) > 0 && !slices.Contains(f.Results, SessionResultFromVBO(s.Result)) {
		return false
	}
	if f.InitiatedBy != nil && *f.InitiatedBy != "" && !containsFold(s.InitiatedBy, *f.InitiatedBy) {
		return false
	}
	if f.ClientHost != nil && *f.ClientHost != "" {
		want := *f.ClientHost
		if !containsFold(upstream.ParseClientHost(s.ClientHost).MachineName, want) && !containsFold(s.ClientHost, want) {
			return false
		}
	}
	return true
}

// MatchesStart reports whether a session that started at creation time t lies in the
// filter's start-time window (both ends inclusive).
func (f *RestoreSessionFilter) MatchesStart(s *upstream.RestoreSession) bool {
	if f == nil {
		return true
	}
	t := s.CreationTime
	return !(f.StartTimeFrom != nil && t.Before(*f.StartTimeFrom) || f.StartTimeTo != nil && t.After(*f.StartTimeTo))
}

// containsFold reports whether sub is within s, ignoring case as strings.ToLower does (the
// semantics the archive's SQL LOWER(...) LIKE reproduces for the restore audit).
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
