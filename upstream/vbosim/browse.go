package vbosim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// This file serves browsing and searching an explored restore session: GETs under
// {R}/organization/... paged by offset/limit, and the read-only search POSTs. The wire structs
// below are shaped as the OpenAPI documents' schemas (v8-only fields are omitted on v6).

// Browse event texts (docs/vbo-sim.md). Type View, status Success.
const (
	EventMsgOpened = "%s \"%s\" was opened successfully"                     // itemType, name (first page)
	EventMsgListed = "%s \"%s\": items %d-%d were listed"                    // itemType, name, from, to (later pages)
	EventMsgSearch = "Search for \"%s\" in %s \"%s\" found %d item(s)"       // query, itemType, name, count
	EventMsgViewed = "%s \"%s\" was opened successfully"                     // single item GETs
	eventTitleView = "View %s"                                               // lower-case itemType
	eventTitleSrch = "Search %s"                                             // lower-case itemType
	searchScopeOrg = "Organization"                                          // itemType of a search over all containers
	searchScopeAll = "all"                                                   // name of that scope
	errWrongType   = "The restore session of type %s cannot browse %s data." // session type, workload
)

type (
	wMailbox struct {
		ID        string         `json:"id"`
		Name      string         `json:"name"`
		Email     string         `json:"email"`
		IsArchive bool           `json:"isArchive"`
		IsPublic  bool           `json:"isPublic"`
		Links     upstream.Links `json:"_links,omitempty"`
	}
	wMailFolder struct {
		ID        string         `json:"id"`
		Name      string         `json:"name"`
		Type      string         `json:"type"`
		Category  string         `json:"category"`
		MailboxID string         `json:"mailboxId,omitempty"` // v8
		Links     upstream.Links `json:"_links,omitempty"`
	}
	wMailItem struct {
		ID         string         `json:"id"`
		MailboxID  string         `json:"mailboxId,omitempty"` // v8
		ItemClass  string         `json:"itemClass"`
		Subject    string         `json:"subject"`
		From       string         `json:"from"`
		To         string         `json:"to"`
		Sent       time.Time      `json:"sent"`
		Received   time.Time      `json:"received"`
		Importance string         `json:"importance"`
		Links      upstream.Links `json:"_links,omitempty"`
	}
	wDrive struct {
		ID    string         `json:"id"`
		Name  string         `json:"name"`
		URL   string         `json:"url"`
		Links upstream.Links `json:"_links,omitempty"`
	}
	// wFileEntry is RESTOneDriveFolder/Document, RESTSharePointFolder/Document/Item and
	// RESTItemComposed.
	wFileEntry struct {
		OneDriveID       string         `json:"oneDriveId,omitempty"` // v8
		SiteID           string         `json:"siteId,omitempty"`     // v8
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		Title            string         `json:"title,omitempty"`
		Type             string         `json:"type,omitempty"` // ListFolder|LibraryFolder
		SizeBytes        *int64         `json:"sizeBytes,omitempty"`
		Version          string         `json:"version,omitempty"`
		CreatedBy        string         `json:"createdBy"`
		CreationTime     time.Time      `json:"creationTime"`
		ModifiedBy       string         `json:"modifiedBy"`
		ModificationTime time.Time      `json:"modificationTime"`
		IsFolder         *bool          `json:"isFolder,omitempty"` // v8
		Links            upstream.Links `json:"_links,omitempty"`
	}
	wLibrary struct {
		ID           string         `json:"id"`
		Name         string         `json:"name"`
		URL          string         `json:"url"`
		CreationTime time.Time      `json:"creationTime"`
		SiteID       string         `json:"siteId,omitempty"` // v8
		Links        upstream.Links `json:"_links,omitempty"`
	}
	wTeam struct {
		ID          string         `json:"id"`
		DisplayName string         `json:"displayName"`
		GroupEmail  string         `json:"groupEmail"`
		Alias       string         `json:"alias"`
		Privacy     string         `json:"privacy"`
		IsArchived  bool           `json:"isArchived"`
		Links       upstream.Links `json:"_links,omitempty"`
	}
	wChannel struct {
		ID          string         `json:"id"`
		DisplayName string         `json:"displayName"`
		TeamID      string         `json:"teamId,omitempty"` // v8
		Type        string         `json:"type,omitempty"`   // v8 channel previews
		Links       upstream.Links `json:"_links,omitempty"`
	}
	wPost struct {
		PostID           int64          `json:"postId"`
		IsImportant      bool           `json:"isImportant"`
		Author           string         `json:"author"`
		Subject          string         `json:"subject"`
		CreatedTime      time.Time      `json:"createdTime"`
		LastModifiedTime time.Time      `json:"lastModifiedTime"`
		ChannelID        string         `json:"channelId,omitempty"` // v8
		TeamID           string         `json:"teamId,omitempty"`    // v8
		Links            upstream.Links `json:"_links,omitempty"`
	}
	wTeamFile struct {
		ID         string         `json:"id"`
		Name       string         `json:"name"`
		SizeBytes  int64          `json:"sizeBytes"`
		Version    int            `json:"version"`
		Modified   time.Time      `json:"modified"`
		ModifiedBy string         `json:"modifiedBy"`
		ChannelID  string         `json:"channelId,omitempty"` // v8 (required there)
		TeamID     string         `json:"teamId,omitempty"`    // v8
		FileType   string         `json:"fileType"`
		Links      upstream.Links `json:"_links,omitempty"`
	}
	wTeamsNode struct {
		TeamID      string         `json:"teamId"`
		ChannelID   string         `json:"channelId"`
		DisplayName string         `json:"displayName"`
		Type        string         `json:"type"`
		Links       upstream.Links `json:"_links,omitempty"`
	}
	searchOptions struct {
		Query *string `json:"query"`
		Type  *string `json:"type,omitempty"` // RESTTeamsSearchOptions: Tabs|Files|Posts
	}
)

const (
	pR  = "/RestoreSessions/{restoreSessionId}"
	pEx = pR + "/organization/mailboxes"
	pOD = pR + "/Organization/OneDrives"
	pSP = pR + "/Organization/Sites"
	pTm = pR + "/organization/teams"
)

func browseRoutes() []restoreRoute {
	get, post := http.MethodGet, http.MethodPost
	return []restoreRoute{
		{method: get, tmpl: pEx, h: (*rcall).mailboxes},
		{method: get, tmpl: pEx + "/{mailboxId}", h: (*rcall).mailbox},
		{method: get, tmpl: pEx + "/{mailboxId}/folders", h: (*rcall).mailFolders},
		{method: get, tmpl: pEx + "/{mailboxId}/folders/{folderId}", h: (*rcall).mailFolder},
		{method: get, tmpl: pEx + "/{mailboxId}/items", h: (*rcall).mailItems},
		{method: get, tmpl: pEx + "/{mailboxId}/items/{itemId}", h: (*rcall).mailItem},
		{method: post, tmpl: pEx + "/search", h: (*rcall).searchMail},
		{method: post, tmpl: pEx + "/{mailboxId}/search", h: (*rcall).searchMail},
		{method: post, tmpl: pEx + "/{mailboxId}/folders/{folderId}/search", h: (*rcall).searchMail},

		{method: get, tmpl: pOD, h: (*rcall).oneDrives},
		{method: get, tmpl: pOD + "/{oneDriveId}", h: (*rcall).oneDrive},
		{method: get, tmpl: pOD + "/{oneDriveId}/Folders", h: (*rcall).driveFolders},
		{method: get, tmpl: pOD + "/{oneDriveId}/Folders/{folderId}", h: (*rcall).driveEntry},
		{method: get, tmpl: pOD + "/{oneDriveId}/Documents", h: (*rcall).driveDocuments},
		{method: get, tmpl: pOD + "/{oneDriveId}/Documents/{documentId}", h: (*rcall).driveEntry},
		{method: post, tmpl: pOD + "/search", h: (*rcall).searchFiles},
		{method: post, tmpl: pOD + "/{oneDriveId}/search", h: (*rcall).searchFiles},
		{method: post, tmpl: pOD + "/{oneDriveId}/Folders/{folderId}/search", h: (*rcall).searchFiles},

		{method: get, tmpl: pSP, h: (*rcall).sites},
		{method: get, tmpl: pSP + "/{siteId}", h: (*rcall).site},
		{method: get, tmpl: pSP + "/{siteId}/Libraries", h: siteLibs(KindLibrary)},
		{method: get, tmpl: pSP + "/{siteId}/Libraries/{libraryId}", h: siteLib(KindLibrary)},
		{method: get, tmpl: pSP + "/{siteId}/Lists", h: siteLibs(KindList)},
		{method: get, tmpl: pSP + "/{siteId}/Lists/{listId}", h: siteLib(KindList)},
		{method: get, tmpl: pSP + "/{siteId}/Folders", h: siteEntries(KindSiteFolder)},
		{method: get, tmpl: pSP + "/{siteId}/Folders/{folderId}", h: siteEntry(KindSiteFolder)},
		{method: get, tmpl: pSP + "/{siteId}/Documents", h: siteEntries(KindSiteDoc)},
		{method: get, tmpl: pSP + "/{siteId}/Documents/{documentId}", h: siteEntry(KindSiteDoc)},
		{method: get, tmpl: pSP + "/{siteId}/Items", h: siteEntries(KindSiteItem)},
		{method: get, tmpl: pSP + "/{siteId}/Items/{itemId}", h: siteEntry(KindSiteItem)},
		{method: post, tmpl: pSP + "/search", h: (*rcall).searchFiles},
		{method: post, tmpl: pSP + "/{siteId}/search", h: (*rcall).searchFiles},

		{method: get, tmpl: pTm, h: (*rcall).teams},
		{method: get, tmpl: pTm + "/{teamId}", h: (*rcall).team},
		{method: get, tmpl: pTm + "/{teamId}/channels", h: (*rcall).channels},
		{method: get, tmpl: pTm + "/{teamId}/channels/{channelId}", h: (*rcall).channel},
		{method: get, tmpl: pTm + "/{teamId}/posts", h: (*rcall).posts},
		{method: get, tmpl: pTm + "/{teamId}/posts/{postId}", h: (*rcall).post},
		{method: get, tmpl: pTm + "/{teamId}/files", h: (*rcall).teamFiles},
		{method: get, tmpl: pTm + "/{teamId}/files/{fileId}", vers: "v6,v7", h: (*rcall).teamFile},
		{method: get, tmpl: pTm + "/{teamId}/channels/{channelId}/files/{fileId}", vers: "v8", h: (*rcall).teamFile},
		{method: get, tmpl: pTm + "/{teamId}/channels/{channelId}/children", vers: "v8", h: (*rcall).channelChildren},
		{method: post, tmpl: pTm + "/{teamId}/search", h: (*rcall).searchTeams},
		{method: post, tmpl: pTm + "/{teamId}/channels/{channelId}/search", h: (*rcall).searchTeams},
	}
}

// ---- common ----

// browse opens the session for a workload (session type index): 404 unknown session, 400
// not running or of another type.
func (c *rcall) browse(typ uint8) (int32, *OrgTree, bool) {
	i, e, ok := c.session(true)
	if !ok {
		return 0, nil, false
	}
	if e.typ != typ {
		c.s.badRequest(c.w, fmt.Sprintf(errWrongType, sessTypes[e.typ], workloadNames[typ]))
		return 0, nil, false
	}
	return i, c.s.treeOf(e.org), true
}

var workloadNames = []string{"Exchange", "OneDrive", "SharePoint", "Teams"}

// workloadRoots are the containers path parameter 1 names, per session type index.
var workloadRoots = []struct {
	kind        NodeKind
	what, param string
}{
	{KindMailbox, "Mailbox", "mailboxId"},
	{KindOneDrive, "OneDrive", "oneDriveId"},
	{KindSite, "Site", "siteId"},
	{KindTeam, "Team", "teamId"},
}

// browseIn opens the session for a workload (as browse) and resolves the container path
// parameter 1 names (mailbox, OneDrive, site or team): ok=false has answered.
func (c *rcall) browseIn(typ uint8) (int32, *OrgTree, *Node, bool) {
	i, t, ok := c.browse(typ)
	if !ok {
		return 0, nil, nil, false
	}
	r := workloadRoots[typ]
	n := c.node(t, 1, r.kind, nil, r.what, r.param)
	if n == nil {
		return 0, nil, nil, false
	}
	return i, t, n, true
}

// viewed answers one item (n rendered) and appends its View event.
func (c *rcall) viewed(i int32, n *Node, what string, render func(*Node) any) {
	c.s.writeJSON(c.w, http.StatusOK, render(n))
	c.event(i, n, what, fmt.Sprintf(eventTitleView, strings.ToLower(what)), fmt.Sprintf(EventMsgViewed, what, n.Name))
}

// searched appends the event of a search over scope (nil: the organization) named name.
func (c *rcall) searched(i int32, scope *Node, what, name, q string, hits int) {
	c.event(i, scope, what, fmt.Sprintf(eventTitleSrch, strings.ToLower(what)), fmt.Sprintf(EventMsgSearch, q, what, name, hits))
}

// filterNodes keeps the nodes keep accepts (nil when none).
func filterNodes(nodes []*Node, keep func(*Node) bool) []*Node {
	var out []*Node
	for _, n := range nodes {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out
}

// childrenOf are of's children of any of kinds, in order.
func childrenOf(of *Node, kinds []NodeKind) []*Node {
	return filterNodes(of.Children, func(ch *Node) bool { return slices.Contains(kinds, ch.Kind) })
}

// includeFolders reads v8's includeFolders query parameter (false when absent or on v6);
// ok=false has answered 400.
func (c *rcall) includeFolders() (include, ok bool) {
	v, has := c.q["includefolders"]
	if !c.v8() || !has {
		return false, true
	}
	b, ok := parseBool(v)
	if !ok {
		c.s.badRequest(c.w, fmt.Sprintf("The value '%s' is not valid for includeFolders.", v))
		return false, false
	}
	return b, true
}

// teamFileNode resolves the file the path names under team tm: v6 teams/{id}/files/{fileId}, v8
// channels/{channelId}/files/{fileId} (ch is that channel). ok=false has answered 404.
func (c *rcall) teamFileNode(t *OrgTree, tm *Node) (f, ch *Node, ok bool) {
	k := 2
	if len(c.params) == 4 { // v8: channels/{channelId}/files/{fileId}
		if ch = c.node(t, 2, KindChannel, tm, "Channel", "channelId"); ch == nil {
			return nil, nil, false
		}
		k = 3
	}
	if f = c.node(t, k, KindTeamFile, tm, "File", "fileId"); f == nil {
		return nil, nil, false
	}
	if ch != nil && f.Channel != ch {
		c.s.notFound(c.w, fmt.Sprintf("File with ID '%s' was not found.", f.ID))
		return nil, nil, false
	}
	return f, ch, true
}

// node resolves path parameter k to a node of kind under container (nil = any): 404 if none.
func (c *rcall) node(t *OrgTree, k int, kind NodeKind, container *Node, what, param string) *Node {
	id := c.params[k]
	n := t.Node(id)
	if n == nil || n.Kind != kind || (container != nil && n.Container != container) {
		c.s.notFound(c.w, fmt.Sprintf("%s with ID '%s' was not found.", what, id))
		return nil
	}
	return n
}

// queryNode resolves an optional query parameter to a node of one of kinds inside container.
// missing: not given. ok=false has answered 404.
func (c *rcall) queryNode(t *OrgTree, name string, container *Node, kinds ...NodeKind) (n *Node, ok bool) {
	v, has := c.q[strings.ToLower(name)]
	if !has || v == "" {
		return nil, true
	}
	n = t.Node(v)
	if n != nil && (container == nil || n.Container == container || n == container) {
		for _, k := range kinds {
			if n.Kind == k {
				return n, true
			}
		}
	}
	c.s.notFound(c.w, fmt.Sprintf("The item with ID '%s' specified in %s was not found.", v, name))
	return nil, false
}

// page writes one offset/limit page of nodes. base is the collection path after the
// version; extra the query parameters echoed in _links.
func (c *rcall) page(nodes []*Node, render func(*Node) any, extra [][2]string) (lo, hi int, ok bool) {
	limit, offset, ok := parsePaging(c.w, c.s, c.q)
	if !ok {
		return 0, 0, false
	}
	lo = min(offset, len(nodes))
	hi = min(lo+limit, len(nodes))
	res := make([]any, 0, hi-lo)
	for _, n := range nodes[lo:hi] {
		res = append(res, render(n))
	}
	total := len(nodes)
	path := c.r.URL.Path
	p := upstream.Page[any]{Offset: offset, Limit: limit, SetID: c.s.setID(path + fmt.Sprint(extra)), Results: res,
		Links: pageLinks(path, extra, offset, limit, hi < total)}
	if c.s.ver != "v8" {
		p.TotalCount = &total
	}
	c.s.writeJSON(c.w, http.StatusOK, p)
	return lo, hi, true
}

// listed appends the browse event for one listed page of n's children.
func (c *rcall) listed(i int32, n *Node, itemType string, lo, hi int) {
	msg := fmt.Sprintf(EventMsgOpened, itemType, n.Name)
	if lo > 0 {
		msg = fmt.Sprintf(EventMsgListed, itemType, n.Name, lo+1, hi)
	}
	c.event(i, n, itemType, fmt.Sprintf(eventTitleView, strings.ToLower(itemType)), msg)
}

func (c *rcall) event(i int32, n *Node, itemType, title, msg string) {
	ev := upstream.RestoreSessionEvent{Type: upstream.EventTypeView, Title: title, Message: msg, ItemType: itemType}
	if n != nil {
		ev.ItemName, ev.Source = n.Name, n.Path("\\")
	}
	c.s.mu.Lock()
	c.s.appendEventLocked(i, ev)
	c.s.mu.Unlock()
}

func (c *rcall) extra(names ...string) [][2]string {
	var out [][2]string
	for _, n := range names {
		if v, ok := c.q[strings.ToLower(n)]; ok {
			out = append(out, [2]string{n, v})
		}
	}
	return out
}

func (c *rcall) v8() bool { return c.s.ver == "v8" }

func (c *rcall) self(parts ...string) upstream.Links {
	return upstream.Links{"self": {Href: "/" + c.s.ver + strings.Replace(strings.Join(parts, "/"), "{restoreSessionId}", c.params[0], 1)}}
}

func ptrBool(b bool) *bool    { return &b }
func ptrInt64(n int64) *int64 { return &n }

// ---- Exchange ----

func (c *rcall) mailboxJSON(n *Node) any {
	return wMailbox{ID: n.ID, Name: n.Name, Email: n.Email, Links: c.self(pEx, n.ID)}
}

func (c *rcall) mailFolderJSON(n *Node) any {
	f := wMailFolder{ID: n.ID, Name: n.Name, Type: "None", Category: n.Category, Links: c.self(pEx, n.Container.ID, "folders", n.ID)}
	if c.v8() {
		f.MailboxID = n.Container.ID
	}
	return f
}

func (c *rcall) mailItemJSON(n *Node) any {
	it := wMailItem{ID: n.ID, ItemClass: "IPM.Note", Subject: n.Name, From: n.By, To: n.To, Sent: n.Modified.Add(-time.Minute),
		Received: n.Modified, Importance: "Normal", Links: c.self(pEx, n.Container.ID, "items", n.ID)}
	if c.v8() {
		it.MailboxID = n.Container.ID
	}
	return it
}

func (c *rcall) mailboxes() {
	if _, t, ok := c.browse(0); ok {
		c.page(t.Mailboxes, c.mailboxJSON, nil)
	}
}

func (c *rcall) mailbox() {
	if i, _, mb, ok := c.browseIn(0); ok {
		c.viewed(i, mb, "Mailbox", c.mailboxJSON)
	}
}

func (c *rcall) mailFolders() {
	i, t, mb, ok := c.browseIn(0)
	if !ok {
		return
	}
	parent, ok := c.queryNode(t, "parentId", mb, KindMailFolder)
	if !ok {
		return
	}
	of, what := mb, "Mailbox"
	if parent != nil {
		of, what = parent, "Folder"
	}
	folders := of.Filter(KindMailFolder)
	if name, has := c.q["name"]; has {
		folders = filterNodes(folders, func(n *Node) bool { return strings.EqualFold(n.Name, name) })
	}
	if lo, hi, ok := c.page(folders, c.mailFolderJSON, c.extra("parentId", "name")); ok {
		c.listed(i, of, what, lo, hi)
	}
}

func (c *rcall) mailFolder() {
	i, t, mb, ok := c.browseIn(0)
	if !ok {
		return
	}
	if f := c.node(t, 2, KindMailFolder, mb, "Folder", "folderId"); f != nil {
		c.viewed(i, f, "Folder", c.mailFolderJSON)
	}
}

func (c *rcall) mailItems() {
	i, t, mb, ok := c.browseIn(0)
	if !ok {
		return
	}
	param := "folderId"
	if c.v8() {
		param = "parentId"
	}
	f, ok := c.queryNode(t, param, mb, KindMailFolder)
	if !ok {
		return
	}
	var items []*Node
	of, what := mb, "Mailbox"
	if f != nil {
		items, of, what = f.Filter(KindMailItem), f, "Folder"
	} else {
		mb.Walk(KindMailItem, func(n *Node) { items = append(items, n) })
	}
	if lo, hi, ok := c.page(items, c.mailItemJSON, c.extra(param)); ok {
		c.listed(i, of, what, lo, hi)
	}
}

func (c *rcall) mailItem() {
	i, t, mb, ok := c.browseIn(0)
	if !ok {
		return
	}
	if it := c.node(t, 2, KindMailItem, mb, "Item", "itemId"); it != nil {
		c.viewed(i, it, "Item", c.mailItemJSON)
	}
}

// search reads the search body; ok=false has answered 400.
func (c *rcall) searchBody(teams bool) (searchOptions, bool) {
	var o searchOptions
	if !c.decode(&o, teams) {
		return o, false
	}
	if teams {
		if o.Query == nil || o.Type == nil {
			c.s.badRequest(c.w, "The query and type fields are required.")
			return o, false
		}
		switch *o.Type {
		case "Tabs", "Files", "Posts":
		default:
			c.s.badRequest(c.w, fmt.Sprintf("The value '%s' is not valid for type. Valid values: Tabs, Files, Posts.", *o.Type))
			return o, false
		}
	}
	return o, true
}

func matches(n *Node, q string) bool {
	return q == "" || strings.Contains(strings.ToLower(n.Name), strings.ToLower(q))
}

func (c *rcall) searchMail() {
	i, t, ok := c.browse(0)
	if !ok {
		return
	}
	q, scope, sc, ok := c.searchScope(t, 0, t.Mailboxes, KindMailFolder)
	if !ok {
		return
	}
	var hits []*Node
	for _, root := range scope {
		root.Walk(KindMailItem, func(n *Node) {
			if matches(n, q) {
				hits = append(hits, n)
			}
		})
	}
	if _, _, ok := c.page(hits, c.mailItemJSON, nil); ok {
		c.searched(i, sc.node, sc.what, sc.name, q, len(hits))
	}
}

// searchArea is what a search looked in: the organization (node nil), a container or a folder.
type searchArea struct {
	node       *Node
	what, name string
}

// searchScope reads a non-Teams search body and resolves where it looks: the organization's
// containers (all), else the container path parameter 1 names (of the workload's root kind)
// and, with parameter 2, its folder of kind folder. ok=false has answered.
func (c *rcall) searchScope(t *OrgTree, typ uint8, all []*Node, folder NodeKind) (q string, scope []*Node, area searchArea, ok bool) {
	o, ok := c.searchBody(false)
	if !ok {
		return "", nil, area, false
	}
	q, scope, area = deref(o.Query), all, searchArea{what: searchScopeOrg, name: searchScopeAll}
	if len(c.params) > 1 {
		r := workloadRoots[typ]
		cn := c.node(t, 1, r.kind, nil, r.what, r.param)
		if cn == nil {
			return "", nil, area, false
		}
		scope, area = []*Node{cn}, searchArea{cn, r.what, cn.Name}
		if len(c.params) > 2 {
			f := c.node(t, 2, folder, cn, "Folder", "folderId")
			if f == nil {
				return "", nil, area, false
			}
			scope, area = []*Node{f}, searchArea{f, "Folder", f.Name}
		}
	}
	return q, scope, area, true
}

// ---- OneDrive and SharePoint ----

func (c *rcall) driveJSON(n *Node) any {
	if n.Kind == KindSite {
		return wDrive{ID: n.ID, Name: n.Name, URL: n.URL, Links: c.self(pSP, n.ID)}
	}
	return wDrive{ID: n.ID, Name: n.Name, URL: n.URL, Links: c.self(pOD, n.ID)}
}

// entryJSON renders a OneDrive or SharePoint folder, document or list item.
func (c *rcall) entryJSON(n *Node) any {
	e := wFileEntry{ID: n.ID, Name: n.Name, CreatedBy: n.By, CreationTime: n.Created, ModifiedBy: n.By, ModificationTime: n.Modified}
	folder := n.Kind == KindDriveFolder || n.Kind == KindSiteFolder
	if !folder {
		e.Version = "1.0"
	}
	var coll string
	switch n.Kind {
	case KindDriveDoc, KindSiteDoc:
		e.SizeBytes = ptrInt64(n.Size)
		coll = "Documents"
	case KindSiteItem:
		e.Title = n.Name
		coll = "Items"
	default:
		coll = "Folders"
	}
	if n.Kind == KindSiteFolder {
		e.Type = "LibraryFolder"
	}
	if c.v8() {
		e.IsFolder = ptrBool(folder)
	}
	if n.Container.Kind == KindOneDrive {
		if c.v8() {
			e.OneDriveID = n.Container.ID
		}
		e.Links = c.self(pOD, n.Container.ID, coll, n.ID)
	} else {
		if c.v8() {
			e.SiteID = n.Container.ID
		}
		e.Links = c.self(pSP, n.Container.ID, coll, n.ID)
	}
	return e
}

func (c *rcall) oneDrives() {
	if _, t, ok := c.browse(1); ok {
		c.page(t.OneDrives, c.driveJSON, nil)
	}
}

func (c *rcall) oneDrive() {
	if i, _, d, ok := c.browseIn(1); ok {
		c.viewed(i, d, "OneDrive", c.driveJSON)
	}
}

// children lists of (the container or the folder in parentId) of the given kinds.
func (c *rcall) children(t *OrgTree, container *Node, parentKinds []NodeKind, kinds ...NodeKind) (of *Node, out []*Node, ok bool) {
	parent, ok := c.queryNode(t, "parentId", container, parentKinds...)
	if !ok {
		return nil, nil, false
	}
	of = container
	if parent != nil {
		of = parent
	}
	return of, childrenOf(of, kinds), true
}

func (c *rcall) driveFolders() {
	i, t, d, ok := c.browseIn(1)
	if !ok {
		return
	}
	of, nodes, ok := c.children(t, d, []NodeKind{KindDriveFolder}, KindDriveFolder)
	if !ok {
		return
	}
	if lo, hi, ok := c.page(nodes, c.entryJSON, c.extra("parentId")); ok {
		c.listed(i, of, kindLabel(of), lo, hi)
	}
}

func (c *rcall) driveDocuments() {
	i, t, d, ok := c.browseIn(1)
	if !ok {
		return
	}
	kinds := []NodeKind{KindDriveDoc}
	include, ok := c.includeFolders()
	if !ok {
		return
	}
	if include {
		kinds = []NodeKind{KindDriveFolder, KindDriveDoc}
	}
	of, nodes, ok := c.children(t, d, []NodeKind{KindDriveFolder}, kinds...)
	if !ok {
		return
	}
	if lo, hi, ok := c.page(nodes, c.entryJSON, c.extra("parentId", "includeFolders")); ok {
		c.listed(i, of, kindLabel(of), lo, hi)
	}
}

func kindLabel(n *Node) string {
	switch n.Kind {
	case KindOneDrive:
		return "OneDrive"
	case KindSite:
		return "Site"
	case KindLibrary:
		return "Library"
	case KindList:
		return "List"
	case KindTeam:
		return "Team"
	case KindChannel:
		return "Channel"
	case KindMailbox:
		return "Mailbox"
	case KindMailItem, KindSiteItem:
		return "Item"
	case KindDriveDoc, KindSiteDoc:
		return "Document"
	case KindTeamFile:
		return "File"
	case KindPost:
		return "Post"
	}
	return "Folder"
}

func (c *rcall) driveEntry() {
	i, t, d, ok := c.browseIn(1)
	if !ok {
		return
	}
	kind, what := KindDriveDoc, "Document"
	if strings.EqualFold(c.route.segs[len(c.route.segs)-2], "Folders") {
		kind, what = KindDriveFolder, "Folder"
	}
	if n := c.node(t, 2, kind, d, what, ""); n != nil {
		c.viewed(i, n, what, c.entryJSON)
	}
}

func (c *rcall) sites() {
	_, t, ok := c.browse(2)
	if !ok {
		return
	}
	parent, ok := c.queryNode(t, "parentId", nil, KindSite)
	if !ok {
		return
	}
	sites := t.Sites
	if parent != nil {
		sites = parent.Filter(KindSite) // no generated subsites
	}
	c.page(sites, c.driveJSON, c.extra("parentId"))
}

func (c *rcall) site() {
	if i, _, st, ok := c.browseIn(2); ok {
		c.viewed(i, st, "Site", c.driveJSON)
	}
}

func (c *rcall) libJSON(n *Node) any {
	coll := "Libraries"
	if n.Kind == KindList {
		coll = "Lists"
	}
	l := wLibrary{ID: n.ID, Name: n.Name, URL: n.URL, CreationTime: n.Created, Links: c.self(pSP, n.Container.ID, coll, n.ID)}
	if c.v8() {
		l.SiteID = n.Container.ID
	}
	return l
}

func siteLibs(kind NodeKind) func(*rcall) {
	return func(c *rcall) {
		i, _, st, ok := c.browseIn(2)
		if !ok {
			return
		}
		if lo, hi, ok := c.page(st.Filter(kind), c.libJSON, nil); ok {
			c.listed(i, st, "Site", lo, hi)
		}
	}
}

func siteLib(kind NodeKind) func(*rcall) { return siteChild(kind, (*rcall).libJSON) }

func siteEntry(kind NodeKind) func(*rcall) { return siteChild(kind, (*rcall).entryJSON) }

// siteChild serves one library, list, folder, document or item of a site (path parameter 2).
func siteChild(kind NodeKind, render func(*rcall, *Node) any) func(*rcall) {
	return func(c *rcall) {
		i, t, st, ok := c.browseIn(2)
		if !ok {
			return
		}
		what := kindLabel(&Node{Kind: kind})
		if n := c.node(t, 2, kind, st, what, ""); n != nil {
			c.viewed(i, n, what, func(n *Node) any { return render(c, n) })
		}
	}
}

func siteEntries(kind NodeKind) func(*rcall) {
	return func(c *rcall) {
		i, t, st, ok := c.browseIn(2)
		if !ok {
			return
		}
		parentKinds := []NodeKind{KindLibrary, KindSiteFolder}
		if kind == KindSiteItem {
			parentKinds = []NodeKind{KindList}
		}
		kinds := []NodeKind{kind}
		if kind != KindSiteFolder {
			include, ok := c.includeFolders()
			if !ok {
				return
			}
			if include {
				kinds = append(kinds, KindSiteFolder)
			}
		}
		parent, ok := c.queryNode(t, "parentId", st, parentKinds...)
		if !ok {
			return
		}
		var nodes []*Node
		of := st
		if parent != nil {
			of, nodes = parent, childrenOf(parent, kinds)
		} else {
			// the site's top level: the entries directly in its libraries/lists
			for _, l := range st.Children {
				nodes = append(nodes, childrenOf(l, kinds)...)
			}
		}
		if lo, hi, ok := c.page(nodes, c.entryJSON, c.extra("parentId", "includeFolders")); ok {
			c.listed(i, of, kindLabel(of), lo, hi)
		}
	}
}

// searchFiles serves the OneDrive and SharePoint searches (RESTVESPSearchOptions ->
// PageOfRESTItemComposed): documents, folders and list items whose name contains the query.
func (c *rcall) searchFiles() {
	typ := uint8(1)
	if strings.EqualFold(c.route.segs[3], "Sites") {
		typ = 2
	}
	i, t, ok := c.browse(typ)
	if !ok {
		return
	}
	all := t.OneDrives
	if typ == 2 {
		all = t.Sites
	}
	q, scope, sc, ok := c.searchScope(t, typ, all, KindDriveFolder)
	if !ok {
		return
	}
	var hits []*Node
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, ch := range n.Children {
			switch ch.Kind {
			case KindDriveFolder, KindDriveDoc, KindSiteFolder, KindSiteDoc, KindSiteItem:
				if matches(ch, q) {
					hits = append(hits, ch)
				}
			}
			walk(ch)
		}
	}
	for _, root := range scope {
		walk(root)
	}
	if _, _, ok := c.page(hits, c.entryJSON, c.extra("itemType")); ok {
		c.searched(i, sc.node, sc.what, sc.name, q, len(hits))
	}
}

// ---- Teams ----

func (c *rcall) teamJSON(n *Node) any {
	alias, _, _ := strings.Cut(n.Email, "@")
	return wTeam{ID: n.ID, DisplayName: n.Name, GroupEmail: n.Email, Alias: alias, Privacy: "Private", Links: c.self(pTm, n.ID)}
}

func (c *rcall) channelJSON(preview bool) func(*Node) any {
	return func(n *Node) any {
		ch := wChannel{ID: n.ID, DisplayName: n.Name, Links: c.self(pTm, n.Container.ID, "channels", n.ID)}
		if c.v8() {
			ch.TeamID = n.Container.ID
			if preview {
				ch.Type = "Standard"
			}
		}
		return ch
	}
}

func (c *rcall) postJSON(n *Node) any {
	p := wPost{PostID: n.PostID, Author: n.By, Subject: n.Name, CreatedTime: n.Created, LastModifiedTime: n.Modified,
		Links: c.self(pTm, n.Container.ID, "posts", n.ID)}
	if c.v8() {
		p.ChannelID, p.TeamID = n.Channel.ID, n.Container.ID
	}
	return p
}

func (c *rcall) fileJSON(n *Node) any {
	f := wTeamFile{ID: n.ID, Name: n.Name, SizeBytes: n.Size, Version: 1, Modified: n.Modified, ModifiedBy: n.By, FileType: "File"}
	if n.IsFolder {
		f.FileType = "Folder"
	}
	if c.v8() {
		f.ChannelID, f.TeamID = n.Channel.ID, n.Container.ID
		f.Links = c.self(pTm, n.Container.ID, "channels", n.Channel.ID, "files", n.ID)
	} else {
		f.Links = c.self(pTm, n.Container.ID, "files", n.ID)
	}
	return f
}

func (c *rcall) teams() {
	_, t, ok := c.browse(3)
	if !ok {
		return
	}
	teams := t.Teams
	if dn, has := c.q["displayname"]; has {
		teams = filterNodes(t.Teams, func(n *Node) bool { return matches(n, dn) })
	}
	c.page(teams, c.teamJSON, c.extra("displayName"))
}

func (c *rcall) team() {
	if i, _, tm, ok := c.browseIn(3); ok {
		c.viewed(i, tm, "Team", c.teamJSON)
	}
}

func (c *rcall) channels() {
	i, _, tm, ok := c.browseIn(3)
	if !ok {
		return
	}
	chs := tm.Filter(KindChannel)
	if dn, has := c.q["displayname"]; has {
		chs = filterNodes(chs, func(n *Node) bool { return matches(n, dn) })
	}
	if lo, hi, ok := c.page(chs, c.channelJSON(true), c.extra("displayName")); ok {
		c.listed(i, tm, "Team", lo, hi)
	}
}

func (c *rcall) channel() {
	i, t, tm, ok := c.browseIn(3)
	if !ok {
		return
	}
	if ch := c.node(t, 2, KindChannel, tm, "Channel", "channelId"); ch != nil {
		c.viewed(i, ch, "Channel", c.channelJSON(false))
	}
}

// channelItems lists a team's posts or files, of one channel when channelId is given.
func (c *rcall) channelItems(kind NodeKind, render func(*Node) any) {
	i, t, tm, ok := c.browseIn(3)
	if !ok {
		return
	}
	ch, ok := c.queryNode(t, "channelId", tm, KindChannel)
	if !ok {
		return
	}
	var nodes []*Node
	of := tm
	if ch != nil {
		of, nodes = ch, ch.Filter(kind)
	} else {
		tm.Walk(kind, func(n *Node) { nodes = append(nodes, n) })
	}
	if lo, hi, ok := c.page(nodes, render, c.extra("channelId", "parentId")); ok {
		c.listed(i, of, kindLabel(of), lo, hi)
	}
}

func (c *rcall) posts()     { c.channelItems(KindPost, c.postJSON) }
func (c *rcall) teamFiles() { c.channelItems(KindTeamFile, c.fileJSON) }

func (c *rcall) post() {
	i, t, tm, ok := c.browseIn(3)
	if !ok {
		return
	}
	if _, err := strconv.ParseInt(c.params[2], 10, 64); err != nil {
		c.s.badRequest(c.w, fmt.Sprintf("The value '%s' is not valid for postId.", c.params[2]))
		return
	}
	if p := c.node(t, 2, KindPost, tm, "Post", "postId"); p != nil {
		c.viewed(i, p, "Post", c.postJSON)
	}
}

func (c *rcall) teamFile() {
	i, t, tm, ok := c.browseIn(3)
	if !ok {
		return
	}
	if f, _, ok := c.teamFileNode(t, tm); ok {
		c.viewed(i, f, "File", c.fileJSON)
	}
}

func (c *rcall) channelChildren() {
	i, t, tm, ok := c.browseIn(3)
	if !ok {
		return
	}
	ch := c.node(t, 2, KindChannel, tm, "Channel", "channelId")
	if ch == nil {
		return
	}
	var nodes []*Node
	for _, typ := range []string{"Posts", "Files", "Tabs"} {
		nodes = append(nodes, &Node{ID: typ, Name: typ, Channel: ch, Container: tm})
	}
	render := func(n *Node) any {
		return wTeamsNode{TeamID: tm.ID, ChannelID: ch.ID, DisplayName: n.Name, Type: n.ID}
	}
	if lo, hi, ok := c.page(nodes, render, nil); ok {
		c.listed(i, ch, "Channel", lo, hi)
	}
}

// searchTeams serves teams/{id}/search and channels/{id}/search (RESTTeamsSearchOptions ->
// PageOfRESTChannelEntity): posts or files whose subject/name contains the query; no tabs.
func (c *rcall) searchTeams() {
	i, t, tm, ok := c.browseIn(3)
	if !ok {
		return
	}
	scope, what := tm, "Team"
	if len(c.params) > 2 {
		if scope = c.node(t, 2, KindChannel, tm, "Channel", "channelId"); scope == nil {
			return
		}
		what = "Channel"
	}
	o, ok := c.searchBody(true)
	if !ok {
		return
	}
	kind, render := KindPost, c.postJSON
	switch *o.Type {
	case "Files":
		kind, render = KindTeamFile, c.fileJSON
	case "Tabs":
		kind = ""
	}
	var hits []*Node
	if kind != "" {
		scope.Walk(kind, func(n *Node) {
			if matches(n, *o.Query) {
				hits = append(hits, n)
			}
		})
	}
	if _, _, ok := c.page(hits, render, nil); ok {
		c.searched(i, scope, what, scope.Name, *o.Query, len(hits))
	}
}
