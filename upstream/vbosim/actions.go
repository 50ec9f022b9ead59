package vbosim

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"reflect"
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
	ActionExport                 = "Export" // Teams posts as HTML
)

// RestoreAction is one action performed on an explored session, as the simulator recorded it.
type RestoreAction struct {
	SessionID string
	Action    string // one of the Action* names
	Workload  string // Exchange, OneDrive, SharePoint, Teams
	// Level is what the ids name: "Items" (messages, documents, folders, list items, posts,
	// files as selected in the body), or the container the route names: "Mailbox", "Folder",
	// "Library", "List", "Site", "Team", "Channel".
	Level   string
	ItemIDs []string
	// ItemCount is how many items the action covered: a container counts its items one by
	// one (one event each).
	ItemCount int
	// Target is where data went: "mailbox\folder" for restoreTo, "OneDrive URL/folder" for
	// copyTo, "site URL[/list]" for SharePoint restoreTo, the source container for restore
	// (mailbox e-mail, OneDrive/site/library/list URL, team e-mail[\channel]), the ";"-joined
	// recipients for sends, the file name for save/export.
	Target      string
	From        string
	To          []string
	Subject     string
	Credentials string // restore/restoreTo/copyTo: "user", "deviceCode", "application" or ""
	Conflict    string // OneDrive: documentAction / documentLastVersionAction; SharePoint: documentLastVersionAction
	Bytes       int64  // save/export: the body length
	// RestoreMembers and RestoreSettings are the Teams switches that change the live team
	// (teams/{id}/restore; v8 channels restore has restoreMembers).
	RestoreMembers  bool
	RestoreSettings bool
	// Options are the body's other fields as sent (wire name -> JSON value, strings unquoted),
	// e.g. "restorePermissions": "true", "documentVersion": "Last". Credentials, item lists,
	// subject and text are never kept.
	Options map[string]string
	At      time.Time
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
		a.ItemIDs, a.To, a.Options = slices.Clone(a.ItemIDs), slices.Clone(a.To), maps.Clone(a.Options)
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
	// itemRef is an item object of an action body's list: its id, and which of its members
	// it has (not null), names case-folded (VBO binds them case-insensitively).
	itemRef struct {
		ID      string
		members map[string]bool
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
	// foldersRestoreStats is v6 RESTFoldersRestoreStatistics (Exchange mailbox and folder).
	// It is itemsRestoreStats with failedFoldersCount first.
	foldersRestoreStats struct {
		FailedFolders int64 `json:"failedFoldersCount"`
		itemsRestoreStats
	}
	asyncRestore struct {
		SessionID string `json:"sessionId"`
	}
)

const pItems = pEx + "/{mailboxId}/items"
const pDocs = pOD + "/{oneDriveId}/Documents"

const pMailbox = pEx + "/{mailboxId}"

func actionRoutes() []restoreRoute {
	post := http.MethodPost
	routes := []restoreRoute{
		{method: post, tmpl: pItems + "/Save", h: mailAction(ActionSave, LevelItems)},
		{method: post, tmpl: pItems + "/exportToPst", h: mailAction(ActionExportToPst, LevelItems)},
		{method: post, tmpl: pItems + "/sendToDefaultAddress", h: mailAction(ActionSendToDefaultAddress, LevelItems)},
		{method: post, tmpl: pItems + "/sendToDifferentAddress", h: mailAction(ActionSendToDifferentAddress, LevelItems)},
		{method: post, tmpl: pItems + "/restoreTo", h: mailAction(ActionRestoreTo, LevelItems)},
		{method: post, tmpl: pItems + "/restore", h: mailAction(ActionRestore, LevelItems)},
		{method: post, tmpl: pMailbox + "/restore", h: mailAction(ActionRestore, LevelMailbox)},
		{method: post, tmpl: pMailbox + "/restoreTo", h: mailAction(ActionRestoreTo, LevelMailbox)},
		{method: post, tmpl: pMailbox + "/exportToPst", h: mailAction(ActionExportToPst, LevelMailbox)},
		{method: post, tmpl: pMailbox + "/folders/{folderId}/restore", h: mailAction(ActionRestore, LevelFolder)},
		{method: post, tmpl: pMailbox + "/folders/{folderId}/restoreTo", h: mailAction(ActionRestoreTo, LevelFolder)},
		{method: post, tmpl: pMailbox + "/folders/{folderId}/exportToPst", h: mailAction(ActionExportToPst, LevelFolder)},
		{method: post, tmpl: pR + "/organization/restoreDeviceCode", h: (*rcall).deviceCode},
		{method: post, tmpl: pDocs + "/save", h: docAction(ActionSave)},
		{method: post, tmpl: pDocs + "/send", h: docAction(ActionSend)},
		{method: post, tmpl: pDocs + "/copyTo", h: docAction(ActionCopyTo)},
		{method: post, tmpl: pDocs + "/restore", h: docAction(ActionRestore)},
	}
	routes = append(routes, sharePointActionRoutes()...)
	return append(routes, teamsActionRoutes()...)
}

// notOptions are the body fields RestoreAction.Options never keeps: credentials, the item
// lists and the message texts.
var notOptions = map[string]bool{"userName": true, "userPassword": true, "userCode": true, "applicationId": true,
	"applicationCertificate": true, "applicationCertificatePassword": true, "impersonationAccountName": true,
	"items": true, "documents": true, "folders": true, "files": true, "posts": true, "teams": true, "subject": true, "text": true}

// decodeOpts decodes an action body into v (as decode) and answers its other fields for
// RestoreAction.Options; ok=false has answered 400.
func (c *rcall) decodeOpts(v any, required bool) (map[string]string, bool) {
	var raw json.RawMessage
	if !c.decode(&raw, required) {
		return nil, false
	}
	if len(raw) == 0 {
		return nil, true
	}
	if err := json.Unmarshal(raw, v); err != nil {
		c.s.badRequest(c.w, "The request is invalid: "+jsonErr(err))
		return nil, false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return nil, true // not an object: v's decoding already refused anything else
	}
	var opts map[string]string
	for k, f := range fields {
		if notOptions[k] || string(f) == "null" {
			continue
		}
		val := string(f)
		var str string
		if json.Unmarshal(f, &str) == nil {
			val = str
		}
		if opts == nil {
			opts = map[string]string{}
		}
		opts[k] = val
	}
	return opts, true
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
	ActionExport:                 {upstream.EventTypeExport, "exported"},
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

// restoreCredentials checks the credentials of a restore (restore, restoreTo, copyTo) into
// a.Credentials; other actions take none. false has answered 400.
func (c *rcall) restoreCredentials(a *RestoreAction, in credentialsIn) bool {
	if actionEvent[a.Action].typ != upstream.EventTypeRestore {
		return true
	}
	var ok bool
	a.Credentials, ok = c.credentials(in)
	return ok
}

// UnmarshalJSON reads an item object (any members; the id a string when given).
func (r *itemRef) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*r = itemRef{members: make(map[string]bool, len(m))}
	for k, v := range m {
		if string(v) == "null" {
			continue
		}
		r.members[strings.ToLower(k)] = true
		if strings.EqualFold(k, "id") {
			if err := json.Unmarshal(v, &r.ID); err != nil {
				return &json.UnmarshalTypeError{Value: "id", Field: "id", Type: reflect.TypeFor[string]()}
			}
		}
	}
	return nil
}

// itemRequired is what the OpenAPI documents require of an item object in an action body's
// list, by the kind of item it names (TestItemRequiredMatchesDocuments holds it to them):
// RESTOneDriveDocument, RESTSharePointDocument/Folder/Item, RESTTeamsFile (v8 adds
// channelId). An Exchange item (RESTExchangeItemStringId) and a post (RESTTeamsPost) require
// nothing.
func itemRequired(kind NodeKind, v8 bool) []string {
	sp := []string{"id", "name", "createdBy", "creationTime", "modifiedBy", "modificationTime"}
	switch kind {
	case KindDriveDoc:
		return append(sp, "sizeBytes")
	case KindSiteDoc, KindSiteFolder, KindSiteItem:
		return sp
	case KindTeamFile:
		if v8 {
			return []string{"id", "channelId"}
		}
		return []string{"id"}
	}
	return nil
}

// itemListKey is the body member that lists items of kind.
func itemListKey(kind NodeKind) string {
	switch kind {
	case KindDriveDoc, KindSiteDoc:
		return "documents"
	case KindSiteFolder:
		return "folders"
	case KindTeamFile:
		return "files"
	}
	return "items"
}

// requireItemFields answers 400, as VBO's model validation does before the action runs, when
// an item object of refs lacks a member its schema requires; ok=false has answered.
func (c *rcall) requireItemFields(refs []itemRef, kind NodeKind) bool {
	req := itemRequired(kind, c.v8())
	for i, r := range refs {
		for _, f := range req {
			if !r.members[strings.ToLower(f)] {
				c.s.badRequest(c.w, fmt.Sprintf("The %s[%d].%s field is required.", itemListKey(kind), i, f))
				return false
			}
		}
	}
	return true
}

// resolveItems maps the body's item objects to nodes of kind inside container; ok=false has
// answered (400 for an object lacking a required member, 404 for an unknown id).
func (c *rcall) resolveItems(t *OrgTree, refs []itemRef, kind NodeKind, container *Node, what string) ([]*Node, bool) {
	if len(refs) == 0 {
		c.s.badRequest(c.w, "At least one item must be specified.")
		return nil, false
	}
	if !c.requireItemFields(refs, kind) {
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

// sendTo fills a send's recipients, sender and subject, Target the ";"-joined recipients;
// false has answered 400 (no recipient).
func (c *rcall) sendTo(a *RestoreAction, to, from, subject string) bool {
	a.To, a.From, a.Subject = splitAddrs(to), from, subject
	if len(a.To) == 0 {
		c.s.badRequest(c.w, "The recipient address (to) is required.")
		return false
	}
	a.Target = strings.Join(a.To, ";")
	return true
}

// zipName is the file name of a ZIP save of picked: the one item's name, else the container's.
func zipName(picked []*Node, container *Node) string {
	if len(picked) > 1 {
		return container.Name + ".zip"
	}
	return picked[0].Name + ".zip"
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

// Action levels (RestoreAction.Level).
const (
	LevelItems   = "Items"
	LevelMailbox = "Mailbox"
	LevelFolder  = "Folder"
	LevelLibrary = "Library"
	LevelList    = "List"
	LevelSite    = "Site"
	LevelTeam    = "Team"
	LevelChannel = "Channel"
)

// mailAction serves the Exchange actions on selected items (LevelItems: items[] in the body),
// on a whole mailbox (LevelMailbox) or on one folder and its subfolders (LevelFolder).
func mailAction(action, level string) func(*rcall) {
	return func(c *rcall) {
		i, t, mb, ok := c.browseIn(0)
		if !ok {
			return
		}
		var picked []*Node
		switch level {
		case LevelMailbox:
			picked = []*Node{mb}
		case LevelFolder:
			f := c.node(t, 2, KindMailFolder, mb, "Folder", "folderId")
			if f == nil {
				return
			}
			picked = []*Node{f}
		}
		var in mailActionIn
		opts, ok := c.decodeOpts(&in, true) // every Exchange action has a required body
		if !ok {
			return
		}
		if level == LevelItems {
			if picked, ok = c.resolveItems(t, in.Items, KindMailItem, mb, "Item"); !ok {
				return
			}
		}
		a := c.newAction(action, "Exchange", level, picked, opts)
		switch action {
		case ActionSendToDefaultAddress:
			a.To = []string{mb.Email}
		case ActionSendToDifferentAddress:
			if !c.sendTo(&a, in.To, in.From, in.Subject) {
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
			a.Target = dst.Email + "\\" + folder
		case ActionRestore:
			a.Target = mb.Email
		}
		if !c.restoreCredentials(&a, in.credentialsIn) {
			return
		}
		if len(a.To) > 0 {
			a.Target = strings.Join(a.To, ";")
		}
		leaves := leavesOf(picked)
		switch action {
		case ActionSave, ActionExportToPst:
			ext, magic := ".msg", magicMSG
			if action == ActionExportToPst || len(leaves) > 1 {
				ext, magic = ".pst", magicPST
				if action == ActionSave {
					ext, magic = ".zip", magicZIP
				}
			}
			name := mb.Name
			if level == LevelFolder {
				name = picked[0].Name
			}
			c.stream(i, a, picked[0].ID, leaves, name+ext, magic)
		default:
			items := itemsRestoreStats{Exceptions: []string{}, Created: int64(len(leaves)), Warnings: []string{}}
			var v6 any = items
			if level != LevelItems {
				v6 = foldersRestoreStats{itemsRestoreStats: items}
			}
			c.reply(i, a, leaves, v6)
		}
	}
}

// Magic bytes the generated bodies start with.
const (
	magicMSG  = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
	magicZIP  = "PK\x03\x04"
	magicPST  = "!BDN"
	magicHTML = "<!DOCTYPE html>"
)

// newAction starts the record of an action on the picked nodes.
func (c *rcall) newAction(action, workload, level string, picked []*Node, opts map[string]string) RestoreAction {
	a := RestoreAction{SessionID: c.params[0], Action: action, Workload: workload, Level: level, Options: opts}
	for _, n := range picked {
		a.ItemIDs = append(a.ItemIDs, n.ID)
	}
	return a
}

// leafKinds are the kinds an action counts one by one.
var leafKinds = map[NodeKind]bool{KindMailItem: true, KindDriveDoc: true, KindSiteDoc: true, KindSiteItem: true, KindPost: true, KindTeamFile: true}

// leavesOf expands the picked nodes to the items they hold: an item is itself, a container
// or folder is its items, depth first in order.
func leavesOf(picked []*Node) []*Node {
	var out []*Node
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, ch := range n.Children {
			if leafKinds[ch.Kind] {
				out = append(out, ch)
			}
			walk(ch)
		}
	}
	for _, n := range picked {
		if leafKinds[n.Kind] {
			out = append(out, n)
			continue
		}
		walk(n)
	}
	return out
}

func docAction(action string) func(*rcall) {
	return func(c *rcall) {
		i, t, d, ok := c.browseIn(1)
		if !ok {
			return
		}
		var in docActionIn
		opts, ok := c.decodeOpts(&in, true)
		if !ok {
			return
		}
		items, ok := c.resolveItems(t, in.Documents, KindDriveDoc, d, "Document")
		if !ok {
			return
		}
		a := c.newAction(action, "OneDrive", LevelItems, items, opts)
		switch action {
		case ActionSend:
			if !c.sendTo(&a, in.To, in.From, in.Subject) {
				return
			}
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
			folder := in.Folder
			if folder == "" {
				folder = "Restored"
			}
			a.Target, a.Conflict = dst.URL+"/"+folder, in.LastVersion
		case ActionRestore:
			a.Target, a.Conflict = d.URL, in.DocumentAction
		}
		if !c.restoreCredentials(&a, in.credentialsIn) {
			return
		}
		if action == ActionSave {
			c.stream(i, a, items[0].ID, items, zipName(items, d), magicZIP)
			return
		}
		n := int64(len(items))
		c.reply(i, a, items, itemRestoreStats{Total: n, Restored: int32(n), RestoreIssues: []any{}})
	}
}

// restoreItemType is RESTRestoreItemType of a restored node (v8 statistics).
func restoreItemType(n *Node) string {
	switch n.Kind {
	case KindDriveDoc, KindDriveFolder:
		return "OneDriveItem"
	case KindSiteDoc, KindSiteItem, KindSiteFolder:
		return "SharePointItem"
	case KindPost:
		return "TeamsPost"
	case KindTeamFile:
		return "TeamsFile"
	}
	return ""
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
			e.items = append(e.items, statItem{ID: n.ID, Type: "Item", Name: n.Name, Status: "Success", Path: n.Path("\\"), ItemType: restoreItemType(n)})
		}
	}
}

func actionTitle(t upstream.RestoreEventType) string {
	if v, ok := verbs[t]; ok {
		return v[0]
	}
	return string(t)
}

// reply records a non-download action, appends one event per item (target a.Target) and
// answers as the version does: sends 200 without a body (v6) or 204 (v8); restores v6's
// statistics v6 or v8's RESTAsyncRestoreResponse.
func (c *rcall) reply(i int32, a RestoreAction, leaves []*Node, v6 any) {
	a.ItemCount = len(leaves)
	c.itemEvents(i, a, leaves, func(*Node) string { return a.Target })
	c.s.record(a)
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
	default:
		c.s.writeJSON(c.w, http.StatusOK, v6)
	}
}

// stream writes the generated body of a save/export: magic, then deterministic bytes seeded
// by seedID (the first selected node), as long as the items' sizes together; it is generated
// while written.
func (c *rcall) stream(i int32, a RestoreAction, seedID string, leaves []*Node, filename, magic string) {
	var total int64
	for _, n := range leaves {
		total += c.s.itemSize(n)
	}
	total = max(total, int64(len(magic)))
	a.Bytes, a.ItemCount, a.Target = total, len(leaves), filename
	c.itemEvents(i, a, leaves, func(*Node) string { return filename })
	c.s.record(a)
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(total, 10))
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method == http.MethodHead {
		return
	}
	io.Copy(c.w, ItemBody(seedID, magic, total))
}

// ItemBody is the generated body the simulator streams for a save/export whose first item is
// firstItemID: magic, then bytes from a generator seeded by the id, n bytes in all. Tests use
// it to compute the expected digest without holding the body.
func ItemBody(firstItemID, magic string, n int64) io.Reader {
	h := hashString(firstItemID)
	return io.LimitReader(io.MultiReader(strings.NewReader(magic), &genReader{r: rand.New(rand.NewPCG(h, h^0x5a5a))}), n)
}

// genReader yields the generator's words as little-endian bytes, whatever the read sizes: a
// word cut by the end of one read continues in the next (the bytes do not depend on the
// reader's buffer, so a client's digest matches ItemBody's).
type genReader struct {
	r    *rand.Rand
	word [8]byte
	left int // bytes of word not yet returned
}

func (g *genReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if g.left == 0 {
			v := g.r.Uint64()
			for k := range 8 {
				g.word[k] = byte(v >> (8 * k))
			}
			g.left = 8
		}
		c := copy(p[n:], g.word[8-g.left:])
		g.left -= c
		n += c
	}
	return n, nil
}
