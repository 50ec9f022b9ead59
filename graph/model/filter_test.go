package model

import (
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestRestoreSessionFilterMatches(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	at := func(h int) *time.Time { v := time.Date(2026, 3, 1, h, 0, 0, 0, time.UTC); return &v }
	s := &upstream.RestoreSession{Type: upstream.SessionTypeExchange, State: upstream.SessionStateStopped,
		Result: upstream.SessionResultFailed, InitiatedBy: "Contoso Ltd", ClientHost: "BXYDEV01 (via: 10.1.2.3)", CreationTime: *at(10)}
	tests := []struct {
		name        string
		f           *RestoreSessionFilter
		attrs, want bool // HasAttributes, MatchesAttributes
		start       bool // MatchesStart
	}{
		{"nil", nil, false, true, true},
		{"empty", &RestoreSessionFilter{}, false, true, true},
		{"empty strings ask nothing", &RestoreSessionFilter{InitiatedBy: str(""), ClientHost: str("")}, false, true, true},
		{"type", &RestoreSessionFilter{Types: []RestoreSessionType{RestoreSessionTypeExchange}}, true, true, true},
		{"other type", &RestoreSessionFilter{Types: []RestoreSessionType{RestoreSessionTypeTeams}}, true, false, true},
		{"state and result", &RestoreSessionFilter{States: []RestoreSessionState{RestoreSessionStateStopped}, Results: []RestoreSessionResult{RestoreSessionResultFailed}}, true, true, true},
		{"other result", &RestoreSessionFilter{Results: []RestoreSessionResult{RestoreSessionResultSuccess}}, true, false, true},
		{"initiatedBy substring, any case", &RestoreSessionFilter{InitiatedBy: str("TOSO")}, true, true, true},
		{"initiatedBy absent", &RestoreSessionFilter{InitiatedBy: str("fabrikam")}, true, false, true},
		{"machine name", &RestoreSessionFilter{ClientHost: str("bxydev")}, true, true, true},
		{"raw clientHost (via address)", &RestoreSessionFilter{ClientHost: str("10.1.2")}, true, true, true},
		{"clientHost absent", &RestoreSessionFilter{ClientHost: str("laptop")}, true, false, true},
		{"window holds the start, ends inclusive", &RestoreSessionFilter{StartTimeFrom: at(10), StartTimeTo: at(10)}, false, true, true},
		{"window after the start", &RestoreSessionFilter{StartTimeFrom: at(11)}, false, true, false},
		{"window before the start", &RestoreSessionFilter{StartTimeTo: at(9)}, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.f.HasAttributes(); got != tt.attrs {
				t.Errorf("HasAttributes = %v, want %v", got, tt.attrs)
			}
			if got := tt.f.MatchesAttributes(s); got != tt.want {
				t.Errorf("MatchesAttributes = %v, want %v", got, tt.want)
			}
			if got := tt.f.MatchesStart(s); got != tt.start {
				t.Errorf("MatchesStart = %v, want %v", got, tt.start)
			}
		})
	}
}
