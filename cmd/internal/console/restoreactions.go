package console

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// The Restore page's item actions (issue 25's mutations, the same calls as the API): download
// (a one-time link the console fetches in process with the signed-in principal), send, restore
// to another location, and restore to the original location behind a confirmation page; and
// the Approvals page where a tenant admin approves another admin's restore to the original
// location. Every form carries an idempotency key generated when the form is rendered, so a
// double submit acts once (the gateway answers the first result, or for a download names it).

// newKey is a fresh idempotency key for one rendered form.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "console-" + hex.EncodeToString(b)
}

// maxSelected bounds the items one form may carry (the gateway's restore.maxItemsPerAction
// decides; this only keeps a forged form from being unbounded work for the console).
const maxSelected = 500

// actionResultFields are what the result page shows of a RestoreActionResult.
const actionResultFields = `state warnings counts { created merged skipped failed }
  action { id kind status target error summary items { name kind } }`

// actionResult is a RestoreActionResult as the result page shows it.
type actionResult struct {
	State    string   `json:"state"`
	Warnings []string `json:"warnings"`
	Counts   *struct {
		Created int `json:"created"`
		Merged  int `json:"merged"`
		Skipped int `json:"skipped"`
		Failed  int `json:"failed"`
	} `json:"counts"`
	Action struct {
		ID      string  `json:"id"`
		Kind    string  `json:"kind"`
		Status  string  `json:"status"`
		Target  *string `json:"target"`
		Error   *string `json:"error"`
		Summary string  `json:"summary"`
		Items   []struct {
			Name *string `json:"name"`
			Kind string  `json:"kind"`
		} `json:"items"`
	} `json:"action"`
}

// selectedItem is an item ticked on the browse page: its id and the name shown beside it
// (the name only labels the confirmation page; the gateway records the names it browsed).
type selectedItem struct{ ID, Name string }

// badForm shows a form error (400) with the page's message.
func (s *server) badForm(w http.ResponseWriter, r *http.Request, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	s.render(w, r, "error", pageData{Title: "Restore", Nav: "restore", Data: msg})
}

func selected(r *http.Request) ([]selectedItem, error) {
	ids := r.PostForm["item"]
	switch {
	case len(ids) == 0:
		return nil, errors.New("select at least one item (tick its box), then choose an action")
	case len(ids) > maxSelected:
		return nil, errors.New("too many items selected")
	}
	out := make([]selectedItem, len(ids))
	for i, id := range ids {
		out[i] = selectedItem{ID: id, Name: r.PostFormValue("name." + id)}
	}
	return out, nil
}

func itemIDs(items []selectedItem) []string {
	ids := make([]string, len(items))
	for i, x := range items {
		ids[i] = x.ID
	}
	return ids
}

// recipients splits a recipients field on commas, semicolons and white space.
func recipients(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// restoreItems is POST /console/restore/{id}/items: the item list's form, one action per button.
func (s *server) restoreItems(w http.ResponseWriter, r *http.Request) {
	if s.restoreForbidden(w, r) {
		return
	}
	id := r.PathValue("id")
	items, err := selected(r)
	if err != nil {
		s.badForm(w, r, err.Error())
		return
	}
	key := r.PostFormValue("key")
	if key == "" {
		s.badForm(w, r, "the form has no idempotency key: reload the page")
		return
	}
	base := map[string]any{"sessionId": id, "itemIds": itemIDs(items), "reason": r.PostFormValue("reason"), "idempotencyKey": key}
	view := sessionFrom(r.Context()).view
	switch r.PostFormValue("action") {
	case "download":
		var d struct {
			Download struct {
				URL       string `json:"url"`
				ExpiresAt string `json:"expiresAt"`
				Action    struct {
					ID string `json:"id"`
				} `json:"action"`
			} `json:"downloadRestoreItems"`
		}
		if _, err := s.query(r.Context(), view, `mutation ConsoleDownload($in: RestoreItemsInput!) {
  downloadRestoreItems(input: $in) { url expiresAt action { id } } }`, map[string]any{"in": base}, &d); err != nil {
			s.fail(w, r, err)
			return
		}
		link, ok := consoleDownloadLink(d.Download.URL)
		if !ok {
			s.fail(w, r, errors.New("console: the gateway answered a download link the console cannot serve: "+d.Download.URL))
			return
		}
		s.render(w, r, "restoreresult", pageData{Title: "Download ready", Nav: "restore", Data: map[string]any{
			"SessionID": id, "Download": link + s.keep(r, "?"), "ExpiresAt": d.Download.ExpiresAt}})
	case "send":
		to := recipients(r.PostFormValue("to"))
		if len(to) == 0 {
			s.badForm(w, r, "sending needs at least one recipient address")
			return
		}
		base["to"] = to
		if v := r.PostFormValue("subject"); v != "" {
			base["subject"] = v
		}
		s.runAction(w, r, id, "sendRestoreItems", "SendRestoreItemsInput", base)
	case "to":
		target := strings.TrimSpace(r.PostFormValue("target"))
		if target == "" {
			s.badForm(w, r, "restoring to another location needs a target (a mailbox or OneDrive owner address, or a site URL)")
			return
		}
		base["target"] = target
		if v := strings.TrimSpace(r.PostFormValue("folder")); v != "" {
			base["folder"] = v
		}
		s.runAction(w, r, id, "restoreItemsTo", "RestoreItemsToInput", base)
	case "original":
		// Nothing is asked yet: the confirmation page says what will be overwritten, with a key
		// of its own (this form's key is left unused). A team's restore may also put back its
		// members and settings: the session's type decides whether those switches are shown.
		var head struct {
			RestoreSession *struct {
				Type string `json:"type"`
			} `json:"restoreSession"`
		}
		notes, err := s.query(r.Context(), view, `query ConsoleRestoreType($id: ID!) { restoreSession(id: $id) { type } }`,
			map[string]any{"id": id}, &head)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if head.RestoreSession == nil {
			s.fail(w, r, notes)
			return
		}
		s.render(w, r, "restoreconfirm", pageData{Title: "Confirm restore to the original location", Nav: "restore", Data: map[string]any{
			"SessionID": id, "Items": items, "Reason": r.PostFormValue("reason"), "Key": newKey(),
			"Conflicts": []string{"KEEP", "OVERWRITE", "MERGE"}, "Teams": head.RestoreSession.Type == "TEAMS"}})
	default:
		s.badForm(w, r, "choose an action: download, send, restore to another location or to the original location")
	}
}

// restoreOriginal is POST /console/restore/{id}/original: the confirmation page's form.
func (s *server) restoreOriginal(w http.ResponseWriter, r *http.Request) {
	if s.restoreForbidden(w, r) {
		return
	}
	id := r.PathValue("id")
	items, err := selected(r)
	if err != nil {
		s.badForm(w, r, err.Error())
		return
	}
	in, err := originalInput(id, items, r.PostForm)
	if err != nil {
		s.badForm(w, r, err.Error())
		return
	}
	s.runAction(w, r, id, "restoreItemsToOriginal", "RestoreItemsToOriginalInput", in)
}

// originalInput is the RestoreItemsToOriginalInput of the confirmation page's form: the
// confirmation box must be ticked and the idempotency key present; the Teams switches
// (restoreMembers, restoreSettings: shown for a team's session only, and destructive like the
// restore itself) are booleans, ticked ("yes") or absent. The gateway decides the rest (the
// conflict choice, a switch on a session that is not a team's: BAD_USER_INPUT).
func originalInput(sessionID string, items []selectedItem, form url.Values) (map[string]any, error) {
	if form.Get("confirm") != "yes" {
		return nil, errors.New("a restore to the original location changes live Microsoft 365 data: tick the confirmation box to go ahead")
	}
	key := form.Get("key")
	if key == "" {
		return nil, errors.New("the form has no idempotency key: reload the page")
	}
	in := map[string]any{"sessionId": sessionID, "itemIds": itemIDs(items), "reason": form.Get("reason"), "idempotencyKey": key,
		"conflict": form.Get("conflict"), "confirm": true}
	for _, sw := range []string{"restoreMembers", "restoreSettings"} {
		switch form.Get(sw) {
		case "":
			in[sw] = false
		case "yes":
			in[sw] = true
		default:
			return nil, fmt.Errorf("the form's %s switch is neither ticked nor clear: reload the page", sw)
		}
	}
	return in, nil
}

// runAction runs one of the mutations answering a RestoreActionResult and shows it.
func (s *server) runAction(w http.ResponseWriter, r *http.Request, sessionID, field, inputType string, in map[string]any) {
	var d map[string]actionResult
	q := "mutation ConsoleAction($in: " + inputType + "!) { " + field + "(input: $in) { " + actionResultFields + " } }"
	if _, err := s.query(r.Context(), sessionFrom(r.Context()).view, q, map[string]any{"in": in}, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	res := d[field]
	s.render(w, r, "restoreresult", pageData{Title: "Restore action", Nav: "restore", Data: map[string]any{
		"SessionID": sessionID, "Result": &res}})
}

// consoleDownloadLink is the console's path for the gateway's one-time link (/download/<token>):
// the console fetches it in process with the signed-in person's principal, to whom it is bound.
func consoleDownloadLink(u string) (string, bool) {
	if pu, err := url.Parse(u); err == nil && pu.IsAbs() {
		u = pu.Path
	}
	token, ok := strings.CutPrefix(u, "/download/")
	if !ok || token == "" || strings.ContainsAny(token, "/?#") {
		return "", false
	}
	return "/console/download/" + url.PathEscape(token), true
}

// download is GET /console/download/{token}: the gateway's /download/<token>, in process, as
// the signed-in person (the same claim, once, as over HTTP with the person's credentials).
func (s *server) download(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(auth.WithPrincipal(r.Context(), sessionFrom(r.Context()).view), http.MethodGet,
		"/download/"+url.PathEscape(r.PathValue("token")), nil)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.gql.ServeHTTP(w, req)
}

// mayApprove: tenant admins approve (provider admins see every tenant's list).
func mayApprove(p *auth.Principal) bool { return p.IsAdmin() || p.Role == "TENANT_ADMIN" }

const approvalsQuery = `query ConsoleApprovals {
  pendingRestoreApprovals(first: 100) { edges { node { id kind person displayName reason server summary startTime target
    items { name kind } } } }
}`

// approvals is GET /console/approvals: restores to the original location waiting for another
// tenant admin.
func (s *server) approvals(w http.ResponseWriter, r *http.Request) {
	if !mayApprove(sessionFrom(r.Context()).principal) {
		w.WriteHeader(http.StatusForbidden)
		s.render(w, r, "error", pageData{Title: "Approvals", Data: "Approvals are for tenant admins."})
		return
	}
	var d struct {
		Pending struct {
			Edges []struct {
				Node struct {
					ID          string  `json:"id"`
					Kind        string  `json:"kind"`
					Person      string  `json:"person"`
					DisplayName *string `json:"displayName"`
					Reason      *string `json:"reason"`
					Server      string  `json:"server"`
					Summary     string  `json:"summary"`
					StartTime   string  `json:"startTime"`
					Target      *string `json:"target"`
					Items       []struct {
						Name *string `json:"name"`
						Kind string  `json:"kind"`
					} `json:"items"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"pendingRestoreApprovals"`
	}
	notes, err := s.query(r.Context(), sessionFrom(r.Context()).view, approvalsQuery, nil, &d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "approvals", pageData{Title: "Approvals", Nav: "approvals", Notes: noteList(notes), Data: d.Pending.Edges})
}

// approve is POST /console/approvals/{id}: approveRestoreAction. The gateway's refusals are
// shown on the error page with their message: the requester's own approval (also with another
// API key of the same person) is FORBIDDEN (restore.approval.secondPerson); an approver whose
// OpenID Connect sign-in is older than restore.stepUpMaxAge is FORBIDDEN naming that rule, and
// the page offers the "sign in again" link, back to the Approvals page (reauthLink).
func (s *server) approve(w http.ResponseWriter, r *http.Request) {
	var d struct {
		Approve actionResult `json:"approveRestoreAction"`
	}
	if _, err := s.query(r.Context(), sessionFrom(r.Context()).view, `mutation ConsoleApprove($id: ID!) {
  approveRestoreAction(id: $id) { `+actionResultFields+` } }`, map[string]any{"id": r.PathValue("id")}, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "restoreresult", pageData{Title: "Approved", Nav: "approvals", Data: map[string]any{"Result": &d.Approve, "Approved": true}})
}
