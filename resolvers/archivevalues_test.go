package resolvers

import (
	"reflect"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The archive's list query selects exactly the recorded values the filter's enums keep: the
// known VBO values that map to a wanted one, and anything unknown only when UNKNOWN is
// wanted; the substring conditions stay the matcher's.
func TestArchiveListQueryWithFilter(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name                   string
		filter                 *model.RestoreSessionFilter
		types, states, results *ArchiveValues
		goOnly                 bool
	}{
		{"none", nil, nil, nil, nil, false},
		{"results", &model.RestoreSessionFilter{Results: []model.RestoreSessionResult{model.RestoreSessionResultFailed, model.RestoreSessionResultWarning}},
			nil, nil, &ArchiveValues{In: []string{"Warning", "Failed"}}, false},
		{"unknown types", &model.RestoreSessionFilter{Types: []model.RestoreSessionType{model.RestoreSessionTypeUnknown, model.RestoreSessionTypeTeams}},
			&ArchiveValues{In: []string{"Vet"}, NotIn: []string{"Vex", "Veod", "Vesp", "Vet"}}, nil, nil, false},
		{"states and a substring", &model.RestoreSessionFilter{States: []model.RestoreSessionState{model.RestoreSessionStateWorking}, InitiatedBy: s("bob")},
			nil, &ArchiveValues{In: []string{"Working"}}, nil, true},
		{"an empty substring", &model.RestoreSessionFilter{ClientHost: s("")}, nil, nil, nil, false},
		{"a client host", &model.RestoreSessionFilter{ClientHost: s("pc-1")}, nil, nil, nil, true},
	} {
		var q ArchiveListQuery
		goOnly := q.withFilter(tc.filter)
		if !reflect.DeepEqual(q.Types, tc.types) || !reflect.DeepEqual(q.States, tc.states) || !reflect.DeepEqual(q.Results, tc.results) || goOnly != tc.goOnly {
			t.Errorf("%s: types %+v states %+v results %+v goOnly %v; want %+v %+v %+v %v", tc.name, q.Types, q.States, q.Results, goOnly,
				tc.types, tc.states, tc.results, tc.goOnly)
		}
		// The SQL condition keeps a recorded type exactly when the filter's enums do.
		if q.Types != nil {
			for _, v := range []upstream.RestoreSessionType{"Vex", "Veod", "Vesp", "Vet", "Vxx", ""} {
				want := tc.filter.MatchesAttributes(&upstream.RestoreSession{Type: v})
				if keeps(q.Types, string(v)) != want {
					t.Errorf("%s: type %q kept %v, want %v", tc.name, v, !want, want)
				}
			}
		}
	}
}

func keeps(v *ArchiveValues, s string) bool {
	for _, x := range v.In {
		if x == s {
			return true
		}
	}
	if len(v.NotIn) == 0 {
		return false
	}
	for _, x := range v.NotIn {
		if x == s {
			return false
		}
	}
	return true
}
