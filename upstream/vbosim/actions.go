package vbosim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// This file serves the item actions of an explored session (issue 25): save/export
// (octet-stream, generated deterministically and streamed), send, restore to another location
// and restore to the original location, for Exchange items and OneDrive documents. v6 answers
// restore statistics synchronously; v8 answers RESTAsyncRestoreResponse whose sessionId is the
// restore session's own id, and the outcome shows in Events and {R}/Statistics.

// Action names recorded in RestoreAction.Action.
const (
	ActionSave                   = "Save"
	ActionExportToPst            = "ExportToPst"
	ActionSendToDefaultAddress   = "SendToDefaultAddress"
	ActionSendToDifferentAddress = "SendToDifferentAddress"
	ActionSend                   = "Send"
	ActionRestoreTo              = "RestoreTo"
	ActionCopyTo                 = "CopyTo"
	ActionRestore                = "Restore"
)

// RestoreAction is one action performed on an explored session, as the simulator recorded it.
type RestoreAction struct {
	SessionID string
	Action    string // one of the Action* names
	Workload  string // Exchange, OneDrive
	ItemIDs   []string
	// Target is where data went: "mailbox\folder" for restoreTo, "OneDrive URL/folder" for
	// copyTo, the source container for restore, the recipient list for sends, "" for save.
	Target      string
	From        string
	To          []string
	Subject     string
	Credentials string // restore/restoreTo/copyTo: "user", "deviceCode", "application" or ""
	Conflict    string // OneDrive: documentAction / documentLastVersionAction
	Bytes       int64  // save/export: the body length
	At          time.Time
}

// actionLog records the restore actions performed on explored sessions.
type actionLog struct {
	actions     []RestoreAction
	deviceCodes map[string]bool
	sizes       map[string]int64 // item id -> body size override (SetItemSize)
}

// RestoreActions returns the actions performed so far, oldest first.
func (s *Server) RestoreActions() []RestoreAction {
	s.actMu.Lock()
	defer s.actMu.Unlock()
	out := make([]RestoreAction, len(s.acts.actions))
	for i, a := range s.acts.actions {
		a.ItemIDs, a.To = slices.Clone(a.ItemIDs), slices.Clone(a.To)
		out[i] = a
	}
	return out
}

// SetItemSize makes the save/export body of one item (a message or document id) n bytes, e.g.
// 1 GiB for a streaming test; bodies are generated while written, never held in memory.
func (s *Server) SetItemSize(itemID string, n int64) {
	s.actMu.Lock()
	defer s.actMu.Unlock()
	if s.acts.sizes == nil {
		s.acts.sizes = map[string]int64{}
	}
	s.acts.sizes[itemID] = n
}

func (s *Server) record(a RestoreAction) {
	a.At = s.clock().UTC()
	s.actMu.Lock()
	s.acts.actions = append(s.acts.actions, a)
	s.actMu.Unlock()
}

func (s *Server) itemSize(n *Node) int64 {
	s.actMu.Lock()
	defer s.actMu.Unlock()
	if v, ok := s.acts.sizes[n.ID]; ok {
		return v
	}
	return n.Size
}

// Wire bodies of the actions (shaped as the OpenAPI schemas).
type (
	itemRef struct {
		ID string `json:"id"`
	}
	credentialsIn struct {
		UserName               string  `json:"userName,omitempty"`
		UserPassword           string  `json:"userPassword,omitempty"`
		UserCode               string  `json:"userCode,omitempty"`
		ApplicationID          *string `json:"applicationId,omitempty"`
		ApplicationCertificate string  `json:"applicationCertificate,omitempty"`
		CertificatePassword    string  `json:"applicationCertificatePassword,omitempty"`
		ImpersonationAccount   string  `json:"impersonationAccountName,omitempty"`
	}
	mailActionIn struct {
		credentialsIn
		Items   []itemRef `json:"items"`
		From    string    `json:"from,omitempty"`
		To      string    `json:"to,omitempty"`
		Subject string    `json:"subject,omitempty"`
		Text    string    `json:"text,omitempty"`
		Mailbox string    `json:"mailbox,omitempty"`
		Folder  string    `json:"folder,omitempty"`
	}
	docActionIn struct {
		credentialsIn
		Documents      []itemRef `json:"documents"`
		From           string    `json:"from,omitempty"`
		To             string    `json:"to,omitempty"`
		Subject        string    `json:"subject,omitempty"`
		Text           string    `json:"text,omitempty"`
		OneDrive       *wDrive   `json:"onedrive,omitempty"`
		Folder         string    `json:"folder,omitempty"`
		DocumentAction string    `json:"documentAction,omitempty"`
		LastVersion    string    `json:"documentLastVersionAction,omitempty"`
	}
	deviceCodeIn struct {
		TargetApplicationID    *string `json:"targetApplicationId,omitempty"`
		TargetRegion           *string `json:"targetRegion,omitempty"`
		TargetOrganizationName string  `json:"targetOrganizationName,omitempty"`
	}
	deviceCodeOut struct {
		UserCode        string `json:"userCode"`
		VerificationURL string `json:"verificationUrl"`
		ExpiresIn       int64  `json:"expiresIn"`
		Message         string `json:"message"`
	}
	// itemsRestoreStats is v6 RESTItemsRestoreStatistics (Exchange).
	itemsRestoreStats struct {
		Exceptions []string `json:"exceptions"`
		Created    int64    `json:"createdItemsCount"`
		Merged     int64    `json:"mergedItemsCount"`
		Failed     int64    `json:"failedItemsCount"`
		Skipped    int64    `json:"skippedItemsCount"`
		Warnings   []string `json:"warnings"`
	}
	// itemRestoreStats is v6 RESTItemRestoreStatistics (OneDrive).
	itemRestoreStats struct {
		Total            int64 `json:"totalItemsCount"`
		Restored         int32 `json:"restoredItemsCount"`
		Failed           int32 `json:"failedItemsCount"`
		SkippedByError   int64 `json:"skippedItemsByErrorCount"`
		SkippedNoChanges int64 `json:"skippedItemsByNoChangesCount"`
		RestoreIssues    []any `json:"restoreIssues"`
	}
	asyncRestore struct {
		SessionID string `json:"sessionId"`
	}
)

const pItems = pEx + "/{mailboxId}/items"
const pDocs = pOD + "/{oneDriveId}/Documents"

func actionRoutes() []restoreRoute {
	post := http.MethodPost
	return []restoreRoute{
		{method: post, tmpl: pItems + "/Save", h: mailAction(ActionSave)},
		{method: post, tmpl: pItems + "/exportToPst", h: mailAction(ActionExportToPst)},
		{method: post, tmpl: pItems + "/sendToDefaultAddress", h: mailAction(ActionSendToDefaultAddress)},
		{method: post, tmpl: pItems + "/sendToDifferentAddress", h: mailAction(ActionSendToDifferentAddress)},
		{method: post, tmpl: pItems + "/restoreTo", h: mailAction(ActionRestoreTo)},
		{method: post, tmpl: pItems + "/restore", h: mailAction(ActionRestore)},
		{method: post, tmpl: pR + "/organization/restoreDeviceCode", h: (*rcall).deviceCode},
		{method: post, tmpl: pDocs + "/save", h: docAction(ActionSave)},
		{method: post, tmpl: pDocs + "/send", h: docAction(ActionSend)},
		{method: post, tmpl: pDocs + "/copyTo", h: docAction(ActionCopyTo)},
		{method: post, tmpl: pDocs + "/restore", h: docAction(ActionRestore)},
	}
}

// Action event texts (type Save/Export/Send/Restore; see docs/vbo-sim.md).
var actionEvent = map[string]struct {
	typ  upstream.RestoreEventType
	verb string
}{
	ActionSave:                   {upstream.EventTypeSave, "saved"},
	ActionExportToPst:            {upstream.EventTypeExport, "exported"},
	ActionSendToDefaultAddress:   {upstream.EventTypeSend, "sent"},
	ActionSendToDifferentAddress: {upstream.EventTypeSend, "sent"},
	ActionSend:                   {upstream.EventTypeSend, "sent"},
	ActionRestoreTo:              {upstream.EventTypeRestore, "restored"},
	ActionCopyTo:                 {upstream.EventTypeRestore, "restored"},
	ActionRestore:                {upstream.EventTypeRestore, "restored"},
}

func (c *rcall) deviceCode() {
	if _, _, ok := c.session(true); !ok {
		return
	}
	var in deviceCodeIn
	if !c.decode(&in, false) {
		return
	}
	r := rand.New(rand.NewPCG(c.s.seed, uint64(c.s.clock().UnixNano())))
	const letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 9)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	code := string(b)
	c.s.actMu.Lock()
	if c.s.acts.deviceCodes == nil {
		c.s.acts.deviceCodes = map[string]bool{}
	}
	c.s.acts.deviceCodes[code] = true
	c.s.actMu.Unlock()
	c.s.writeJSON(c.w, http.StatusOK, deviceCodeOut{UserCode: code, VerificationURL: "https://microsoft.com/devicelogin", ExpiresIn: 900,
		Message: "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code " + code + " to authenticate."})
}

// credentials checks a restore body's credentials: an application id with a certificate, a
// device code issued by restoreDeviceCode, or a user name with a password. ok=false has
// answered 400.
func (c *rcall) credentials(in credentialsIn) (string, bool) {
	switch {
	case in.ApplicationID != nil && *in.ApplicationID != "":
		if _, ok := parseUUID(*in.ApplicationID); !ok {
			c.s.badRequest(c.w, fmt.Sprintf("The value '%s' is not valid for applicationId.", *in.ApplicationID))
			return "", false
		}
		if in.ApplicationCertificate == "" {
			c.s.badRequest(c.w, "The application certificate is required when an application ID is specified.")
			return "", false
		}
		return "application", true
	case in.UserCode != "":
		c.s.actMu.Lock()
		known := c.s.acts.deviceCodes[in.UserCode]
		c.s.actMu.Unlock()
		if !known {
			c.s.badRequest(c.w, "The device code is invalid or expired. Request a new device code and try again.")
			return "", false
		}
		return "deviceCode", true
	case in.UserName != "" && in.UserPassword != "":
		return "user", true
	}
	c.s.badRequest(c.w, "Restore credentials are required: specify an application ID and certificate, a device code, or a user name and password.")
	return "", false
}

// resolveItems maps the body's ids to nodes of kind inside container; ok=false has answered.
func (c *rcall) resolveItems(t *OrgTree, refs []itemRef, kind NodeKind, container *Node, what string) ([]*Node, bool) {
	if len(refs) == 0 {
		c.s.badRequest(c.w, "At least one item must be specified.")
		return nil, false
	}
	out := make([]*Node, 0, len(refs))
	for _, r := range refs {
		n := t.Node(r.ID)
		if n == nil || n.Kind != kind || n.Container != container {
			c.s.notFound(c.w, fmt.Sprintf("%s with ID '%s' was not found.", what, r.ID))
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func mailAction(action string) func(*rcall) {
	return func(c *rcall) {
		i, t, ok := c.browse(0)
		if !ok {
			return
		}
		mb := c.node(t, 1, KindMailbox, nil, "Mailbox", "mailboxId")
		if mb == nil {
			return
		}
		var in mailActionIn
		if !c.decode(&in, true) {
			return
		}
		items, ok := c.resolveItems(t, in.Items, KindMailItem, mb, "Item")
		if !ok {
			return
		}
		a := RestoreAction{SessionID: c.params[0], Action: action, Workload: "Exchange"}
		for _, n := range items {
			a.ItemIDs = append(a.ItemIDs, n.ID)
		}
		target := ""
		switch action {
		case ActionSendToDefaultAddress:
			a.To = []string{mb.Email}
		case ActionSendToDifferentAddress:
			a.To, a.From, a.Subject = splitAddrs(in.To), in.From, in.Subject
			if len(a.To) == 0 {
				c.s.badRequest(c.w, "The recipient address (to) is required.")
				return
			}
		case ActionRestoreTo:
			if in.Mailbox == "" {
				c.s.badRequest(c.w, "The target mailbox is required.")
				return
			}
			var dst *Node
			for _, m := range t.Mailboxes {
				if strings.EqualFold(m.Email, in.Mailbox) || strings.EqualFold(m.Name, in.Mailbox) {
					dst = m
				}
			}
			if dst == nil {
				c.s.badRequest(c.w, fmt.Sprintf("Mailbox '%s' was not found in the organization.", in.Mailbox))
				return
			}
			folder := in.Folder
			if folder == "" {
				folder = "Restored Items"
			}
			if a.Credentials, ok = c.credentials(in.credentialsIn); !ok {
				return
			}
			a.Target = dst.Email + "\\" + folder
		case ActionRestore:
			if a.Credentials, ok = c.credentials(in.credentialsIn); !ok {
				return
			}
			a.Target = mb.Email
		}
		if len(a.To) > 0 {
			target = strings.Join(a.To, ";")
			a.Target = target
		}
		switch action {
		case ActionSave, ActionExportToPst:
			ext, magic := ".msg", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
			if action == ActionExportToPst || len(items) > 1 && action == ActionSave {
				ext, magic = ".pst", "!BDN"
				if action == ActionSave {
					ext, magic = ".zip", "PK\x03\x04"
				}
			}
			c.stream(i, a, items, mb.Name+ext, magic, func(n *Node) string { return target })
		default:
			c.finish(i, a, items, func(n *Node) string { return a.Target })
		}
	}
}

func docAction(action string) func(*rcall) {
	return func(c *rcall) {
		i, t, ok := c.browse(1)
		if !ok {
			return
		}
		d := c.node(t, 1, KindOneDrive, nil, "OneDrive", "oneDriveId")
		if d == nil {
			return
		}
		var in docActionIn
		if !c.decode(&in, true) {
			return
		}
		items, ok := c.resolveItems(t, in.Documents, KindDriveDoc, d, "Document")
		if !ok {
			return
		}
		a := RestoreAction{SessionID: c.params[0], Action: action, Workload: "OneDrive"}
		for _, n := range items {
			a.ItemIDs = append(a.ItemIDs, n.ID)
		}
		switch action {
		case ActionSend:
			a.To, a.From, a.Subject = splitAddrs(in.To), in.From, in.Subject
			if len(a.To) == 0 {
				c.s.badRequest(c.w, "The recipient address (to) is required.")
				return
			}
			a.Target = strings.Join(a.To, ";")
		case ActionCopyTo:
			var dst *Node
			if in.OneDrive != nil {
				for _, o := range t.OneDrives {
					if o.ID == in.OneDrive.ID || in.OneDrive.ID == "" && in.OneDrive.URL != "" && strings.EqualFold(o.URL, in.OneDrive.URL) {
						dst = o
					}
				}
			}
			if dst == nil {
				c.s.badRequest(c.w, "The target OneDrive was not found in the organization.")
				return
			}
			if a.Credentials, ok = c.credentials(in.credentialsIn); !ok {
				return
			}
			folder := in.Folder
			if folder == "" {
				folder = "Restored"
			}
			a.Target, a.Conflict = dst.URL+"/"+folder, in.LastVersion
		case ActionRestore:
			if a.Credentials, ok = c.credentials(in.credentialsIn); !ok {
				return
			}
			a.Target, a.Conflict = d.URL, in.DocumentAction
		}
		if action == ActionSave {
			name, magic := items[0].Name, "PK\x03\x04"
			if len(items) > 1 {
				name = d.Name + ".zip"
			} else {
				name += ".zip"
			}
			c.stream(i, a, items, name, magic, func(*Node) string { return "" })
			return
		}
		c.finish(i, a, items, func(*Node) string { return a.Target })
	}
}

// itemEvents appends one event per item and counts them in the session's statistics.
func (c *rcall) itemEvents(i int32, a RestoreAction, items []*Node, target func(*Node) string) {
	ae := actionEvent[a.Action]
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.explored[i]
	for _, n := range items {
		it := kindLabel(n)
		ev := upstream.RestoreSessionEvent{Type: ae.typ, Title: fmt.Sprintf("%s %s", actionTitle(ae.typ), strings.ToLower(it)),
			Message: fmt.Sprintf("%s \"%s\" was %s successfully", it, n.Name, ae.verb), ItemName: n.Name, ItemType: it,
			ItemSizeBytes: ptrInt64(s.itemSize(n)), Source: n.Path("\\"), Target: target(n)}
		s.appendEventLocked(i, ev)
		if e != nil {
			e.restored++
			st := statItem{ID: n.ID, Type: "Item", Name: n.Name, Status: "Success", Path: n.Path("\\")}
			if a.Workload == "OneDrive" {
				st.ItemType = "OneDriveItem"
			}
			e.items = append(e.items, st)
		}
	}
}

func actionTitle(t upstream.RestoreEventType) string {
	if v, ok := verbs[t]; ok {
		return v[0]
	}
	return string(t)
}

// finish records a non-download action and answers it as the version does.
func (c *rcall) finish(i int32, a RestoreAction, items []*Node, target func(*Node) string) {
	c.itemEvents(i, a, items, target)
	c.s.record(a)
	n := int64(len(items))
	switch {
	case a.Action == ActionSendToDefaultAddress || a.Action == ActionSendToDifferentAddress || a.Action == ActionSend:
		if c.v8() {
			c.w.WriteHeader(http.StatusNoContent)
			return
		}
		c.w.Header().Del("Content-Type")
		c.w.WriteHeader(http.StatusOK)
	case c.v8():
		c.s.writeJSON(c.w, http.StatusOK, asyncRestore{SessionID: c.params[0]})
	case a.Workload == "OneDrive":
		c.s.writeJSON(c.w, http.StatusOK, itemRestoreStats{Total: n, Restored: int32(n), RestoreIssues: []any{}})
	default:
		c.s.writeJSON(c.w, http.StatusOK, itemsRestoreStats{Exceptions: []string{}, Created: n, Warnings: []string{}})
	}
}

// stream writes the generated body of a save/export: magic, then deterministic bytes, as
// long as the items' sizes together; it is generated while written.
func (c *rcall) stream(i int32, a RestoreAction, items []*Node, filename, magic string, target func(*Node) string) {
	var total int64
	for _, n := range items {
		total += c.s.itemSize(n)
	}
	total = max(total, int64(len(magic)))
	a.Bytes = total
	c.itemEvents(i, a, items, func(n *Node) string { return filename })
	c.s.record(a)
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(total, 10))
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method == http.MethodHead {
		return
	}
	io.Copy(c.w, ItemBody(items[0].ID, magic, total))
}

// ItemBody is the generated body the simulator streams for a save/export whose first item is
// firstItemID: magic, then bytes from a generator seeded by the id, n bytes in all. Tests use
// it to compute the expected digest without holding the body.
func ItemBody(firstItemID, magic string, n int64) io.Reader {
	h := hashString(firstItemID)
	return io.LimitReader(io.MultiReader(strings.NewReader(magic), &genReader{r: rand.New(rand.NewPCG(h, h^0x5a5a))}), n)
}

type genReader struct{ r *rand.Rand }

func (g *genReader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		v := g.r.Uint64()
		for k := 0; k < 8 && i+k < len(p); k++ {
			p[i+k] = byte(v >> (8 * k))
		}
	}
	return len(p), nil
}
