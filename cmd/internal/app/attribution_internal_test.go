package app

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
)

// The watch rules join a session's item events among the same item actions as
// RestoreAction.events and the reaper (the log's SessionItemActions), however many other steps
// (browse pages, searches) the session took first: an action after 10,000 steps (20 pages of
// the session's steps, the most the webhooks' join read) was missing from it alone, so its
// events named no actor there.
func TestItemActionsAreTheSessionsItemActions(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.Options{Path: filepath.Join(t.TempDir(), "a.db")})
	log, err := actionlog.New(st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	alice := actionlog.Actor{Person: "alice", Role: "RESTORE_OPERATOR", Tenant: "t1"}
	b, err := log.Begin(ctx, actionlog.Entry{Actor: alice, Kind: actionlog.KindStart, Reason: "ticket 42", Server: "syd1",
		OrganizationID: "org-1", SessionType: "EXCHANGE", Detail: json.RawMessage(`{"type":"Vex"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Complete(ctx, b.ID, actionlog.Outcome{Status: actionlog.StatusSucceeded, UpstreamStatus: 201, VBOSessionID: "vbo-1"}); err != nil {
		t.Fatal(err)
	}
	for range 20 * actionlog.MaxActionsPage {
		if _, err := log.Begin(ctx, actionlog.Entry{Actor: alice, Kind: actionlog.KindBrowse, GatewaySessionID: b.ID, VBOSessionID: "vbo-1",
			Detail: json.RawMessage(`{"page":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	send, err := log.Begin(ctx, actionlog.Entry{Actor: alice, Kind: actionlog.KindSend, GatewaySessionID: b.ID, VBOSessionID: "vbo-1",
		Items: []actionlog.Item{{ID: "i1", Name: "Budget"}}, Recipients: []string{"bob@contoso.example"}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := log.SessionItemActions(ctx, b.ID, eventjoin.MaxActions+1)
	if err != nil || len(want) != 1 || want[0].ID != send.ID {
		t.Fatalf("the log's item actions: %v %v", want, err)
	}
	got, err := logItemActions{log}.ItemActions(ctx, "syd1", "vbo-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != send.ID {
		t.Fatalf("the watch rules join among %d actions, want the session's one item action %s", len(got), send.ID)
	}
}
