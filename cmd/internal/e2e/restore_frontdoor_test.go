package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

// The restore front door end to end (issue 24): the demo fleet with syd1 on VBO API v6 and
// mel1 on v8, the watch and the front door on, callers authenticated by the demo's keys.

func restoreStart(t *testing.T) *restoreEnv {
	t.Helper()
	fleet, cfg := restoreFleet(t, 20, 100*time.Millisecond)
	cfg.Restore = config.Restore{Enabled: true, IdleTimeout: time.Minute, ReapInterval: time.Second, MaxOpenSessionsPerPerson: 5,
		StepsPerMinute: 6000} // each browse query below takes up to 7 steps
	return restoreGateway(t, fleet, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// tenantOrgs are tenant n's organisations as global ids, by server.
func (e *restoreEnv) tenantOrgs(t *testing.T, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tn := range e.fleet.Config.Tenants {
		if tn.ID != fmt.Sprint("tenant-", n) {
			continue
		}
		for _, o := range tn.Organizations {
			if _, dup := out[o.Server]; dup {
				continue
			}
			if id := simOrgID(e.fleet.Sims[o.Server], o.Name); id != "" {
				out[o.Server] = gid.ID{Kind: gid.KindOrganization, Server: o.Server, Upstream: id}.String()
			}
		}
	}
	return out
}

func (r readResult) codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

func (r readResult) decode(t *testing.T, out any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatal(err)
	}
}

const (
	rfStart = `mutation($org: ID!, $reason: String!) { startRestoreSession(input: {organizationId: $org, type: EXCHANGE, reason: $reason}) {
		id state attribution { throughGateway person displayName tenant reason } } }`
	rfBrowse = `query($id: ID!, $after: String) { restoreSession(id: $id, live: true) { browse {
		mailboxes(first: 2, after: $after) { pageInfo { hasNextPage endCursor } edges { cursor node { id kind name hasChildren
			folders: children(kind: MAIL_FOLDER, first: 2) { pageInfo { endCursor } edges { node { id kind name
				items: children(kind: MAIL_ITEM, first: 2) { edges { node { id kind name } } } } } } } } } } } }`
	rfMailboxesAfter = `query($id: ID!, $after: String) { restoreSession(id: $id, live: true) { browse { mailboxes(first: 2, after: $after) { edges { node { id } } } } } }`
	rfStop           = `mutation($id: ID!) { stopRestoreSession(id: $id) { id state } }`
	rfRead           = `query($id: ID!, $live: Boolean) { restoreSession(id: $id, live: $live) { id state
		attribution { throughGateway person tenant reason actions(first: 50) { edges { node { kind status person summary upstreamStatus clientAddress requestId } } } }
		browse { mailboxes(first: 1) { edges { node { id } } } } } }`
	// rfReadOnly is rfRead without the browser (which, on an open session, is a recorded step).
	rfReadOnly = `query($id: ID!, $live: Boolean) { restoreSession(id: $id, live: $live) { id state
		attribution { throughGateway person tenant reason actions(first: 50) { edges { node { kind status person summary upstreamStatus clientAddress requestId } } } } } }`
	rfVerify = `query($t: String) { verifyRestoreActionLog(tenant: $t) { tenant ok records brokenAt problem } }`
)

type rfItem struct {
	ID, Kind, Name string
	HasChildren    bool
}

type rfBrowseData struct {
	RestoreSession struct {
		Browse *struct {
			Mailboxes struct {
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct {
					Cursor string
					Node   struct {
						rfItem
						Folders struct {
							PageInfo struct{ EndCursor string }
							Edges    []struct {
								Node struct {
									rfItem
									Items struct{ Edges []struct{ Node rfItem } }
								}
							}
						}
					}
				}
			}
		}
	}
}

type rfReadData struct {
	RestoreSession *struct {
		ID, State   string
		Attribution struct {
			ThroughGateway         bool
			Person, Tenant, Reason *string
			Actions                struct {
				Edges []struct {
					Node struct {
						Kind, Status, Person, Summary string
						UpstreamStatus                *int
						ClientAddress, RequestID      *string
					}
				}
			}
		}
		Browse *json.RawMessage
	}
}

func (d rfReadData) kinds() []string {
	var out []string
	for _, e := range d.RestoreSession.Attribution.Actions.Edges {
		out = append(out, e.Node.Kind+":"+e.Node.Status)
	}
	return out
}

// TestRestoreFrontDoorEndToEnd: on a v6 and a v8 server, tenant 1's operator starts an Exchange
// session with a reason, pages mailboxes -> folders -> items, and stops it; the session, read
// again live and from the archive once the watch has polled it, shows its attribution and every
// recorded step. Another tenant's operator gets NOT_FOUND with that session's id on every call,
// the tenant's auditor FORBIDDEN on the mutations and a null browser; a cursor of another list
// is BAD_USER_INPUT.
func TestRestoreFrontDoorEndToEnd(t *testing.T) {
	e := restoreStart(t)
	orgs := e.tenantOrgs(t, 1)
	operator, auditor, stranger := demo.TenantOperatorKey(1), demo.TenantKey(1), demo.TenantOperatorKey(2)
	for _, server := range []string{"syd1", "mel1"} {
		t.Run(server+"/"+e.fleet.Sims[server].APIVersion(), func(t *testing.T) {
			org, ok := orgs[server]
			if !ok {
				t.Fatalf("tenant 1 has no organisation on %s", server)
			}
			reason := "Ticket 4711 on " + server + ": restore the March invoices"
			var started struct {
				StartRestoreSession struct {
					ID, State   string
					Attribution struct {
						ThroughGateway                      bool
						Person, DisplayName, Tenant, Reason *string
					}
				}
			}
			postAs(t, e.c, operator, rfStart, map[string]any{"org": org, "reason": reason}).decode(t, &started)
			s := started.StartRestoreSession
			a := s.Attribution
			if !a.ThroughGateway || show(a.Person) != "apikey:"+operator || show(a.Tenant) != "tenant-1" || show(a.Reason) != reason || a.DisplayName != nil {
				t.Fatalf("started %+v attribution %s %s %s", s, show(a.Person), show(a.Tenant), show(a.Reason))
			}
			id := s.ID

			// Mailboxes -> folders -> items, then the next page of mailboxes.
			var page rfBrowseData
			postAs(t, e.c, operator, rfBrowse, map[string]any{"id": id}).decode(t, &page)
			b := page.RestoreSession.Browse
			if b == nil || len(b.Mailboxes.Edges) != 2 || !b.Mailboxes.PageInfo.HasNextPage {
				t.Fatalf("browse %+v, want a full first page of mailboxes", b)
			}
			mb := b.Mailboxes.Edges[0].Node
			if mb.Kind != "MAILBOX" || mb.Name == "" || len(mb.Folders.Edges) == 0 || len(mb.Folders.Edges[0].Node.Items.Edges) == 0 {
				t.Fatalf("first mailbox %+v, want folders with items", mb)
			}
			if f := mb.Folders.Edges[0].Node; f.Kind != "MAIL_FOLDER" || f.Items.Edges[0].Node.Kind != "MAIL_ITEM" {
				t.Fatalf("folder %+v", f)
			}
			var next rfBrowseData
			postAs(t, e.c, operator, rfBrowse, map[string]any{"id": id, "after": b.Mailboxes.PageInfo.EndCursor}).decode(t, &next)
			nb := next.RestoreSession.Browse
			if nb == nil || len(nb.Mailboxes.Edges) == 0 || nb.Mailboxes.Edges[0].Node.ID == mb.ID || nb.Mailboxes.Edges[0].Node.ID == b.Mailboxes.Edges[1].Node.ID {
				t.Fatalf("second page %+v repeats the first", nb)
			}
			// A folders cursor is not a mailboxes cursor.
			if r := postAs(t, e.c, operator, rfMailboxesAfter, map[string]any{"id": id, "after": mb.Folders.PageInfo.EndCursor}); !slices.Contains(r.codes(), "BAD_USER_INPUT") {
				t.Fatalf("another list's cursor: %+v", r.Errors)
			}

			// Another tenant's operator: NOT_FOUND with this session's id on every call, and for
			// tenant 1's organisation.
			for name, q := range map[string]string{"stop": rfStop, "read": rfRead, "browse": rfBrowse} {
				r := postAs(t, e.c, stranger, q, map[string]any{"id": id})
				if !slices.Equal(r.codes(), []string{"NOT_FOUND"}) || strings.Contains(string(r.Data), "mailboxes") {
					t.Fatalf("another tenant's %s: %s %+v, want NOT_FOUND only", name, r.Data, r.Errors)
				}
			}
			if r := postAs(t, e.c, stranger, rfStart, map[string]any{"org": org, "reason": "mine now"}); !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
				t.Fatalf("another tenant's start on tenant 1's organisation: %+v", r.Errors)
			}
			// The tenant's auditor sees the session and its attribution, may not act.
			for name, q := range map[string]string{"stop": rfStop, "start": rfStart} {
				r := postAs(t, e.c, auditor, q, map[string]any{"id": id, "org": org, "reason": "just looking"})
				if !slices.Equal(r.codes(), []string{"FORBIDDEN"}) || !strings.Contains(r.Errors[0].Message, "RESTORE_OPERATOR") {
					t.Fatalf("auditor's %s: %+v, want FORBIDDEN naming RESTORE_OPERATOR", name, r.Errors)
				}
			}
			var seen rfReadData
			postAs(t, e.c, auditor, rfRead, map[string]any{"id": id, "live": true}).decode(t, &seen)
			if seen.RestoreSession == nil || !seen.RestoreSession.Attribution.ThroughGateway || seen.RestoreSession.Browse != nil {
				t.Fatalf("auditor reads %+v, want the attribution and no browser", seen.RestoreSession)
			}

			// Stop; the browser is gone, the record stays.
			var stopped struct{ StopRestoreSession struct{ ID, State string } }
			postAs(t, e.c, operator, rfStop, map[string]any{"id": id}).decode(t, &stopped)
			if stopped.StopRestoreSession.State != "STOPPED" || stopped.StopRestoreSession.ID != id {
				t.Fatalf("stopped %+v", stopped.StopRestoreSession)
			}
			want := []string{"START:SUCCEEDED", "BROWSE:SUCCEEDED"}
			check := func(d rfReadData, where string) {
				t.Helper()
				rs := d.RestoreSession
				if rs == nil || rs.State != "STOPPED" || rs.Browse != nil || !rs.Attribution.ThroughGateway || show(rs.Attribution.Reason) != reason ||
					show(rs.Attribution.Person) != "apikey:"+operator {
					t.Fatalf("%s: %+v", where, rs)
				}
				k := d.kinds()
				// START, one BROWSE per page asked (mailboxes, folders of each, items of each...), STOP.
				if len(k) < 4 || !slices.Equal(k[:2], want) || k[len(k)-1] != "STOP:SUCCEEDED" || slices.ContainsFunc(k, func(s string) bool { return !strings.HasSuffix(s, ":SUCCEEDED") }) {
					t.Fatalf("%s: actions %v", where, k)
				}
				first := rs.Attribution.Actions.Edges[0].Node
				if first.UpstreamStatus == nil || first.ClientAddress == nil || first.RequestID == nil || first.Person != "apikey:"+operator {
					t.Fatalf("%s: START recorded as %+v", where, first)
				}
			}
			var live rfReadData
			postAs(t, e.c, operator, rfRead, map[string]any{"id": id, "live": true}).decode(t, &live)
			check(live, "live")
			// From the archive, once the watch has polled the stopped session.
			var archived rfReadData
			waitFor(t, 20*time.Second, func() bool {
				r := postAs(t, e.c, operator, rfRead, map[string]any{"id": id})
				if len(r.Errors) > 0 || !r.sources()["archive"] {
					return false
				}
				r.decode(t, &archived)
				return archived.RestoreSession != nil && archived.RestoreSession.State == "STOPPED"
			}, "the archive to hold the stopped session")
			check(archived, "archive")

			// Stopping again answers the session as it is; another tenant still gets NOT_FOUND.
			if r := postAs(t, e.c, operator, rfStop, map[string]any{"id": id}); len(r.Errors) > 0 {
				t.Fatalf("second stop: %+v", r.Errors)
			}
		})
	}

	// A session started outside the gateway: attribution throughGateway false, no browser,
	// NOT_FOUND to stop.
	t.Run("outside the gateway", func(t *testing.T) {
		var list struct {
			RestoreSessions struct {
				Edges []struct {
					Node struct {
						ID          string
						Attribution struct{ ThroughGateway bool }
					}
				}
			}
		}
		postAs(t, e.c, demo.TenantAdminKey(1), `{ restoreSessions(first: 20, live: true) { edges { node { id attribution { throughGateway } } } } }`, nil).decode(t, &list)
		id := ""
		for _, ed := range list.RestoreSessions.Edges {
			if !ed.Node.Attribution.ThroughGateway {
				id = ed.Node.ID
				break
			}
		}
		if id == "" {
			t.Fatal("tenant 1 has no session from outside the gateway")
		}
		var d rfReadData
		postAs(t, e.c, demo.TenantAdminKey(1), rfRead, map[string]any{"id": id, "live": true}).decode(t, &d)
		if d.RestoreSession == nil || d.RestoreSession.Attribution.ThroughGateway || d.RestoreSession.Attribution.Person != nil || d.RestoreSession.Browse != nil {
			t.Fatalf("a session from outside the gateway: %+v", d.RestoreSession)
		}
		if r := postAs(t, e.c, demo.TenantAdminKey(1), rfStop, map[string]any{"id": id}); !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
			t.Fatalf("stop of a session from outside the gateway: %+v", r.Errors)
		}
	})

	// The chain checks out; a record edited in the store is found.
	t.Run("verify", func(t *testing.T) {
		var v struct {
			VerifyRestoreActionLog struct {
				Tenant   *string
				OK       bool `json:"ok"`
				Records  int64
				BrokenAt *int64
				Problem  *string
			}
		}
		postAs(t, e.c, demo.TenantAdminKey(1), rfVerify, nil).decode(t, &v)
		if got := v.VerifyRestoreActionLog; !got.OK || got.Records < 8 || show(got.Tenant) != "tenant-1" {
			t.Fatalf("verify %+v", got)
		}
		for key, code := range map[string]string{operator: "FORBIDDEN", auditor: "FORBIDDEN"} {
			if r := postAs(t, e.c, key, rfVerify, nil); !slices.Equal(r.codes(), []string{code}) {
				t.Fatalf("verify as %s: %+v", key, r.Errors)
			}
		}
		if r := postAs(t, e.c, demo.TenantAdminKey(1), rfVerify, map[string]any{"t": "tenant-2"}); !slices.Equal(r.codes(), []string{"FORBIDDEN"}) {
			t.Fatalf("a tenant admin verifying another tenant: %+v", r.Errors)
		}
		if err := e.gw.Store.InTx(context.Background(), func(tx store.Tx) error {
			_, err := tx.Exec(context.Background(), `UPDATE restore_action SET reason = 'nothing to see here' WHERE tenant = 'tenant-1' AND position = 1`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		postAs(t, e.c, demo.AdminKey, rfVerify, map[string]any{"t": "tenant-1"}).decode(t, &v)
		if got := v.VerifyRestoreActionLog; got.OK || got.BrokenAt == nil || *got.BrokenAt != 1 || got.Problem == nil {
			t.Fatalf("verify after an edit %+v, want broken at 1", got)
		}
	})
}

// TestRestoreReaperStopsIdleSession: a session with no step for longer than
// restore.idleTimeout is stopped by the reaper (River's periodic job): in VBO, and recorded as
// REAP.
func TestRestoreReaperStopsIdleSession(t *testing.T) {
	e := restoreStart(t)
	operator := demo.TenantOperatorKey(1)
	org := e.tenantOrgs(t, 1)["mel1"]
	id := e.startExchange(t, operator, org, "left open")
	// Idle for two minutes (restore.idleTimeout is one): move its last step back in the store.
	old := time.Now().Add(-2 * time.Minute).UnixNano()
	if err := e.gw.Store.InTx(context.Background(), func(tx store.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE restore_gateway_session SET last_activity_ns = ? WHERE is_open`, old)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var d rfReadData
	waitFor(t, 20*time.Second, func() bool {
		postAs(t, e.c, operator, rfReadOnly, map[string]any{"id": id, "live": true}).decode(t, &d)
		return d.RestoreSession != nil && d.RestoreSession.State == "STOPPED"
	}, "the reaper to stop the idle session")
	k := d.kinds()
	if len(k) != 2 || k[1] != "REAP:SUCCEEDED" || d.RestoreSession.Browse != nil {
		t.Fatalf("actions %v browse %v, want START then REAP", k, d.RestoreSession.Browse)
	}
	if p := d.RestoreSession.Attribution.Actions.Edges[1].Node.Person; p != "vbo-gateway:reaper" {
		t.Fatalf("REAP recorded against %q", p)
	}
}

// TestRestoreDemoTab runs the demo's GraphiQL restore tab as written: start, browse, stop.
func TestRestoreDemoTab(t *testing.T) {
	e := restoreStart(t)
	tab, ok := e.fleet.RestoreTabFor()
	if !ok {
		t.Fatal("no restore tab")
	}
	if !strings.Contains(tab.Headers, demo.TenantOperatorKey(1)) {
		t.Fatalf("tab headers %s", tab.Headers)
	}
	run, vars := e.tabRunner(t, tab)
	var s struct{ StartRestoreSession struct{ ID string } }
	run("StartRestoreSession", &s)
	vars["session"] = s.StartRestoreSession.ID
	var b struct {
		RestoreSession struct {
			Browse struct {
				Mailboxes struct{ Edges []json.RawMessage }
			}
		}
	}
	run("Browse", &b)
	if len(b.RestoreSession.Browse.Mailboxes.Edges) == 0 {
		t.Fatal("the tab's Browse listed no mailboxes")
	}
	var st struct{ StopRestoreSession struct{ State string } }
	run("StopRestoreSession", &st)
	if st.StopRestoreSession.State != "STOPPED" {
		t.Fatalf("stop: %+v", st)
	}
}
