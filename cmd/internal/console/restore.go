package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// The Restore page (RESTORE_OPERATOR, TENANT_ADMIN, PROVIDER_ADMIN): start a session with a
// reason, browse its backup, stop it. Every step is the gateway's own GraphQL
// (startRestoreSession, RestoreSession.browse, RestoreItem.children, stopRestoreSession) with
// the signed-in person's principal, so the front door records it and decides who may: the
// console only hides the page from roles that may not act (their POSTs reach GraphQL and are
// answered FORBIDDEN like any other call). The item list's form carries issue 25's item
// actions (restoreactions.go).

// mayRestore: the roles the front door lets act (it decides; this only hides the page).
func mayRestore(p *auth.Principal) bool {
	return p.IsAdmin() || p.Role == "RESTORE_OPERATOR" || p.Role == "TENANT_ADMIN"
}

// rootKinds are the browser's collection per session type: its field and its kind.
var rootKinds = map[string]struct{ field, kind string }{
	"EXCHANGE": {"mailboxes", "MAILBOX"}, "ONEDRIVE": {"oneDrives", "ONEDRIVE"},
	"SHAREPOINT": {"sites", "SITE"}, "TEAMS": {"teams", "TEAM"},
}

// childKinds are the kinds below each kind (RestoreItemKind's description).
var childKinds = map[string][]string{
	"MAILBOX": {"MAIL_FOLDER"}, "MAIL_FOLDER": {"MAIL_FOLDER", "MAIL_ITEM"},
	"ONEDRIVE": {"DRIVE_FOLDER", "DRIVE_DOCUMENT"}, "DRIVE_FOLDER": {"DRIVE_FOLDER", "DRIVE_DOCUMENT"},
	"SITE": {"SITE_LIBRARY", "SITE_LIST"}, "SITE_LIBRARY": {"SITE_FOLDER", "SITE_DOCUMENT"},
	"SITE_FOLDER": {"SITE_FOLDER", "SITE_DOCUMENT"}, "SITE_LIST": {"SITE_FOLDER", "SITE_ITEM"},
	"TEAM": {"CHANNEL"}, "CHANNEL": {"POST", "TEAM_FILE"},
}

const restoreHomeQuery = `query ConsoleRestoreHome {
  viewer { organizations { id name server { name } } }
  restoreSessions(first: 50, filter: {states: [WORKING]}) {
    edges { node { id startTime type organization { name server { name } } attribution { throughGateway person reason } } }
  }
}`

func (s *server) restoreForbidden(w http.ResponseWriter, r *http.Request) bool {
	if mayRestore(sessionFrom(r.Context()).principal) {
		return false
	}
	w.WriteHeader(http.StatusForbidden)
	s.render(w, r, "error", pageData{Title: "Restore", Data: "Restores are for restore operators and tenant admins."})
	return true
}

func (s *server) restoreHome(w http.ResponseWriter, r *http.Request) {
	if s.restoreForbidden(w, r) {
		return
	}
	var d struct {
		Viewer struct {
			Organizations []org `json:"organizations"`
		} `json:"viewer"`
		RestoreSessions struct {
			Edges []struct {
				Node struct {
					ID           string `json:"id"`
					StartTime    string `json:"startTime"`
					Type         string `json:"type"`
					Organization org    `json:"organization"`
					Attribution  struct {
						ThroughGateway bool    `json:"throughGateway"`
						Person         *string `json:"person"`
						Reason         *string `json:"reason"`
					} `json:"attribution"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"restoreSessions"`
	}
	notes, err := s.query(r.Context(), sessionFrom(r.Context()).view, restoreHomeQuery, nil, &d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	open := d.RestoreSessions.Edges[:0]
	for _, e := range d.RestoreSessions.Edges {
		if e.Node.Attribution.ThroughGateway {
			open = append(open, e)
		}
	}
	s.render(w, r, "restore", pageData{Title: "Restore", Nav: "restore", Notes: noteList(notes), Data: map[string]any{
		"Orgs": d.Viewer.Organizations, "Types": sessionTypes, "Open": open}})
}

const startQuery = `mutation ConsoleStart($input: StartRestoreSessionInput!) { startRestoreSession(input: $input) { id } }`

func (s *server) restoreStart(w http.ResponseWriter, r *http.Request) {
	var d struct {
		Start struct {
			ID string `json:"id"`
		} `json:"startRestoreSession"`
	}
	input := map[string]any{"organizationId": r.PostFormValue("org"), "type": r.PostFormValue("type"), "reason": r.PostFormValue("reason")}
	if _, err := s.query(r.Context(), sessionFrom(r.Context()).view, startQuery, map[string]any{"input": input}, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/restore/"+url.PathEscape(d.Start.ID)+s.keep(r, "?"), http.StatusSeeOther)
}

const stopQuery = `mutation ConsoleStop($id: ID!) { stopRestoreSession(id: $id) { id state } }`

func (s *server) restoreStop(w http.ResponseWriter, r *http.Request) {
	var d struct {
		Stop struct {
			ID string `json:"id"`
		} `json:"stopRestoreSession"`
	}
	if _, err := s.query(r.Context(), sessionFrom(r.Context()).view, stopQuery, map[string]any{"id": r.PathValue("id")}, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/sessions/"+url.PathEscape(d.Stop.ID)+s.keep(r, "?"), http.StatusSeeOther)
}

// browseStep is one level of a browse path: the kind listed and the cursor its page starts
// after. Every level but the last holds one entry (the one opened: first 1 after the cursor
// before it); the last is the page shown.
type browseStep struct{ Kind, After string }

// maxBrowseDepth bounds a browse path (mailbox, folders, items; each level is one VBO call).
const maxBrowseDepth = 8

// parseSteps reads ?step=KIND:cursor (repeated); kinds must follow one another as the schema
// says, starting at the session type's root.
func parseSteps(q url.Values, root string) ([]browseStep, error) {
	raw := q["step"]
	if len(raw) == 0 {
		return []browseStep{{Kind: root}}, nil
	}
	if len(raw) > maxBrowseDepth {
		return nil, fmt.Errorf("a browse path has at most %d levels", maxBrowseDepth)
	}
	steps := make([]browseStep, len(raw))
	for i, x := range raw {
		kind, after, _ := strings.Cut(x, ":")
		if i == 0 && kind != root || i > 0 && !slices.Contains(childKinds[steps[i-1].Kind], kind) {
			return nil, fmt.Errorf("browse path: %q cannot come there", kind)
		}
		steps[i] = browseStep{Kind: kind, After: after}
	}
	return steps, nil
}

func stepValues(steps []browseStep) string {
	v := url.Values{}
	for _, st := range steps {
		v.Add("step", st.Kind+":"+st.After)
	}
	return v.Encode()
}

// browseQuery nests one selection per step (kinds are checked names, cursors variables).
func browseQuery(field string, steps []browseStep) (string, map[string]any) {
	vars := map[string]any{}
	var b strings.Builder
	b.WriteString("query ConsoleBrowse($id: ID!")
	for i := range steps {
		fmt.Fprintf(&b, ", $a%d: String", i)
	}
	b.WriteString(") { restoreSession(id: $id) { id type state startTime organization { name server { name } } attribution { person reason } browse { ")
	for i, st := range steps {
		vars[fmt.Sprintf("a%d", i)] = nil
		if st.After != "" {
			vars[fmt.Sprintf("a%d", i)] = st.After
		}
		sel := field
		if i > 0 {
			sel = "children(kind: " + st.Kind + ","
		} else {
			sel += "("
		}
		if i < len(steps)-1 {
			fmt.Fprintf(&b, "%s first: 1, after: $a%d) { edges { node { id kind name ", sel, i)
		} else {
			fmt.Fprintf(&b, "%s first: 50, after: $a%d) { edges { cursor node { id kind name itemType email url sizeBytes modified hasChildren } } pageInfo { hasNextPage endCursor } }", sel, i)
		}
	}
	for range len(steps) - 1 {
		b.WriteString("} } }")
	}
	b.WriteString(" } } }")
	return b.String(), vars
}

// browseItem is a RestoreItem as the page lists it.
type browseItem struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"`
	Name        string  `json:"name"`
	ItemType    *string `json:"itemType"`
	Email       *string `json:"email"`
	URL         *string `json:"url"`
	SizeBytes   *int64  `json:"sizeBytes"`
	Modified    *string `json:"modified"`
	HasChildren bool    `json:"hasChildren"`
}

// browseLevel is one level of the nested answer.
type browseLevel struct {
	Edges []struct {
		Cursor string `json:"cursor"`
		Node   struct {
			browseItem
			Children *browseLevel `json:"children"`
		} `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

// openLink is a link opening an entry's children of one kind.
type openLink struct{ Kind, Href string }

type browseRow struct {
	browseItem
	Open []openLink
}

func (s *server) restoreSession(w http.ResponseWriter, r *http.Request) {
	if s.restoreForbidden(w, r) {
		return
	}
	sess := sessionFrom(r.Context())
	id := r.PathValue("id")
	// The session's type decides the root; one small read first.
	var head struct {
		RestoreSession *struct {
			Type string `json:"type"`
		} `json:"restoreSession"`
	}
	notes, err := s.query(r.Context(), sess.view, `query ConsoleRestoreType($id: ID!) { restoreSession(id: $id) { type } }`,
		map[string]any{"id": id}, &head)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if head.RestoreSession == nil {
		s.fail(w, r, notes)
		return
	}
	root, ok := rootKinds[head.RestoreSession.Type]
	if !ok {
		s.fail(w, r, fmt.Errorf("console: session type %q cannot be browsed", head.RestoreSession.Type))
		return
	}
	steps, err := parseSteps(r.URL.Query(), root.kind)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, r, "error", pageData{Title: "Restore", Nav: "restore", Data: err.Error()})
		return
	}
	query, vars := browseQuery(root.field, steps)
	vars["id"] = id
	var d struct {
		RestoreSession *struct {
			ID           string `json:"id"`
			Type         string `json:"type"`
			State        string `json:"state"`
			StartTime    string `json:"startTime"`
			Organization org    `json:"organization"`
			Attribution  struct {
				Person *string `json:"person"`
				Reason *string `json:"reason"`
			} `json:"attribution"`
			Browse map[string]*browseLevel `json:"browse"`
		} `json:"restoreSession"`
	}
	notes, err = s.query(r.Context(), sess.view, query, vars, &d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.RestoreSession == nil {
		s.fail(w, r, notes)
		return
	}
	keep := ""
	if sess.tenant != "" {
		keep = "&tenant=" + url.QueryEscape(sess.tenant)
	}
	base := "/console/restore/" + url.PathEscape(id) + "?"
	var crumbs []openLink
	level := d.RestoreSession.Browse[root.field]
	for i := 0; level != nil && i < len(steps)-1; i++ {
		if len(level.Edges) == 0 {
			level = nil
			break
		}
		n := level.Edges[0].Node
		crumbs = append(crumbs, openLink{Kind: n.Name, Href: base + stepValues(append(slices.Clone(steps[:i+1]), browseStep{Kind: steps[i+1].Kind})) + keep})
		level = n.Children
	}
	var rows []browseRow
	next := ""
	last := steps[len(steps)-1]
	if level != nil {
		prev := last.After
		for _, e := range level.Edges {
			row := browseRow{browseItem: e.Node.browseItem}
			if e.Node.HasChildren {
				for _, k := range childKinds[e.Node.Kind] {
					path := append(slices.Clone(steps[:len(steps)-1]), browseStep{Kind: last.Kind, After: prev}, browseStep{Kind: k})
					if len(path) <= maxBrowseDepth {
						row.Open = append(row.Open, openLink{Kind: k, Href: base + stepValues(path) + keep})
					}
				}
			}
			rows = append(rows, row)
			prev = e.Cursor
		}
		if pi := level.PageInfo; pi.HasNextPage && pi.EndCursor != nil {
			path := append(slices.Clone(steps[:len(steps)-1]), browseStep{Kind: last.Kind, After: *pi.EndCursor})
			next = base + stepValues(path) + keep
		}
	}
	s.render(w, r, "restoresession", pageData{Title: "Restore session", Nav: "restore", Notes: noteList(notes), Data: map[string]any{
		"Session": d.RestoreSession, "Browsable": level != nil, "Key": newKey(), "Kind": last.Kind, "Crumbs": crumbs, "Rows": rows, "Next": next,
		"Top": base + strings.TrimPrefix(keep, "&"),
	}})
}
