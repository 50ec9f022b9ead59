package frontdoor

import (
	"errors"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// TestOutcomeStatusIsTheActions: the recorded upstream status is what VBO answered the action.
// An action that was not sent (an item read back before it failed, the token could not be
// had) has none, whatever status the call before it got; one VBO refused or failed has its.
func TestOutcomeStatusIsTheActions(t *testing.T) {
	t.Parallel()
	read := &upstream.Error{Server: "syd1", Method: "GET", Path: "/v8/RestoreSessions/s1/Organization/OneDrives/d1/Documents/a", StatusCode: 404}
	post := &upstream.Error{Server: "syd1", Method: "POST", Path: "/v8/RestoreSessions/s1/Organization/OneDrives/d1/Documents/Save", StatusCode: 400}
	for _, tc := range []struct {
		name       string
		err        error
		wantStatus int
		wantPrefix string
	}{
		{"item read failed, not sent", &upstream.ActionError{Outcome: upstream.OutcomeNotSent, Err: read}, 0, "not sent to VBO: "},
		{"refused", &upstream.ActionError{Outcome: upstream.OutcomeRefused, Err: post}, 400, "refused by VBO: "},
		{"unknown", &upstream.ActionError{Outcome: upstream.OutcomeUnknown, Err: &upstream.Error{Method: "POST", StatusCode: 502}}, 502, actionlog.UnknownOutcome},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := outcome(nil, tc.err)
			if o.Status != actionlog.StatusFailed || o.UpstreamStatus != tc.wantStatus || !strings.HasPrefix(o.Error, tc.wantPrefix) {
				t.Errorf("outcome %+v, want FAILED, upstream status %d, error %q...", o, tc.wantStatus, tc.wantPrefix)
			}
			if !errors.As(tc.err, new(*upstream.ActionError)) {
				t.Fatal("test error is not an ActionError")
			}
		})
	}
}
