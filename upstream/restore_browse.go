package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Browsing and searching an open restore session: the path of each BrowseKind per API version,
// and the decoding of each workload's item shape into BrowseItem.
//
// Paths ({R} = RestoreSessions/{sessionId}; casing as VBO's OpenAPI documents write it; C =
// ContainerID, P = ParentID, F = FolderID; a query parameter is sent only when its id is set):
//
//	mailboxes       GET {R}/organization/mailboxes
//	mailFolders     GET {R}/organization/mailboxes/C/folders             ?parentId=P
//	mailItems       GET {R}/organization/mailboxes/C/items               v6/v7 ?folderId=P, v8 ?parentId=P
//	oneDrives       GET {R}/Organization/OneDrives
//	driveFolders    GET {R}/Organization/OneDrives/C/Folders             ?parentId=P
//	driveDocuments  GET {R}/Organization/OneDrives/C/Documents           ?parentId=P
//	sites           GET {R}/Organization/Sites                           ?parentId=P (a parent site)
//	siteLibraries   GET {R}/Organization/Sites/C/Libraries
//	siteLists       GET {R}/Organization/Sites/C/Lists
//	siteFolders     GET {R}/Organization/Sites/C/Folders                 ?parentId=P
//	siteDocuments   GET {R}/Organization/Sites/C/Documents               ?parentId=P
//	siteItems       GET {R}/Organization/Sites/C/Items                   ?parentId=P
//	teams           GET {R}/organization/teams
//	channels        GET {R}/organization/teams/C/channels
//	posts           GET {R}/organization/teams/C/posts                   ?channelId=P
//	teamFiles       GET {R}/organization/teams/C/files                   ?channelId=P&parentId=F (v8: P required)
//
// Search (body {"query": q} unless noted; POSTs are read-only and retried as GETs):
//
//	mailboxes                 POST {R}/organization/mailboxes/search
//	mailItems                 POST {R}/organization/mailboxes/C/folders/P/search, or C/search without P
//	mailFolders               GET  {R}/organization/mailboxes/C/folders  ?name=q&parentId=P
//	oneDrives                 POST {R}/Organization/OneDrives/search                 ?itemType=All
//	driveFolders, driveDocuments
//	                          POST {R}/Organization/OneDrives/C/Folders/P/search, or C/search without P
//	                                                                       ?itemType=Folders|Documents
//	sites                     POST {R}/Organization/Sites/search, or Sites/P/search  ?itemType=All
//	siteLibraries, siteLists  POST {R}/Organization/Sites/C/search                   ?itemType=All
//	siteFolders, siteDocuments, siteItems
//	                          POST {R}/Organization/Sites/C/Folders/P/search, or C/search
//	                                                                       ?itemType=Folders|Items
//	teams                     GET  {R}/organization/teams                  ?displayName=q
//	channels                  GET  {R}/organization/teams/C/channels       ?displayName=q
//	posts                     POST {R}/organization/teams/C/posts/search   v8 ?channelId=P (v6 searches the whole team)
//	teamFiles                 POST {R}/organization/teams/C/files/search   v8 ?channelId=P&parentId=F (v6: the whole team)

// itemShape is the VBO schema a listing answers with.
type itemShape int

const (
	shapeMailbox     itemShape = iota // RESTExchangeMailbox
	shapeMailFolder                   // RESTExchangeFolder
	shapeMailItem                     // RESTExchangeItemsComposed
	shapeOneDrive                     // RESTOneDrive
	shapeDriveFolder                  // RESTOneDriveFolder
	shapeDocument                     // RESTOneDriveDocument / RESTSharePointDocument / RESTItemComposed
	shapeSite                         // RESTSharePointSite
	shapeLibrary                      // RESTSharePointLibrary
	shapeList                         // RESTSharePointList
	shapeSiteFolder                   // RESTSharePointFolder
	shapeSiteItem                     // RESTSharePointItem
	shapeTeam                         // RESTTeamsTeam
	shapeChannel                      // RESTTeamsChannel / RESTTeamsChannelPreview
	shapePost                         // RESTTeamsPost
	shapeTeamFile                     // RESTTeamsFile
	shapeFound                        // RESTItemComposed from a OneDrive/SharePoint search
)

// listCall is one listing request: GET path?query, or a read-only POST with a body.
type listCall struct {
	method string
	path   string
	query  url.Values
	body   any
	shape  itemShape
}

// restoreSessionPath is {R} relative to /vN/.
func restoreSessionPath(sessionID string) string { return "RestoreSessions/" + escape(sessionID) }

// kindSpec is what a BrowseKind needs.
type kindSpec struct {
	container bool // ContainerID required
	parent    bool // ParentID allowed
}

var browseKinds = map[BrowseKind]kindSpec{
	BrowseMailboxes:      {},
	BrowseMailFolders:    {container: true, parent: true},
	BrowseMailItems:      {container: true, parent: true},
	BrowseOneDrives:      {},
	BrowseDriveFolders:   {container: true, parent: true},
	BrowseDriveDocuments: {container: true, parent: true},
	BrowseSites:          {parent: true},
	BrowseSiteLibraries:  {container: true},
	BrowseSiteLists:      {container: true},
	BrowseSiteFolders:    {container: true, parent: true},
	BrowseSiteDocuments:  {container: true, parent: true},
	BrowseSiteItems:      {container: true, parent: true},
	BrowseTeams:          {},
	BrowseChannels:       {container: true},
	BrowsePosts:          {container: true, parent: true},
	BrowseTeamFiles:      {container: true, parent: true},
}

// checkID refuses an id that cannot be one path segment: empty, or a dot segment, which a
// server or proxy normalising the path would resolve to another resource (escape leaves dots).
func checkID(what, id string) error {
	switch id {
	case "":
		return fmt.Errorf("%w: empty %s id", ErrInvalidRef, what)
	case ".", "..":
		return fmt.Errorf("%w: %s id %q", ErrInvalidRef, what, id)
	}
	return nil
}

// checkOptionalID is checkID for an id that may be left empty.
func checkOptionalID(what, id string) error {
	if id == "" {
		return nil
	}
	return checkID(what, id)
}

// checkRef validates ref for its kind.
func (c *Client) checkRef(sessionID string, ref BrowseRef) error {
	if err := errors.Join(checkID("session", sessionID), checkOptionalID("container", ref.ContainerID),
		checkOptionalID("parent", ref.ParentID), checkOptionalID("folder", ref.FolderID)); err != nil {
		return err
	}
	spec, ok := browseKinds[ref.Kind]
	switch {
	case !ok:
		return fmt.Errorf("%w: unknown browse kind %q", ErrInvalidRef, ref.Kind)
	case spec.container && ref.ContainerID == "":
		return fmt.Errorf("%w: %s needs a container id", ErrInvalidRef, ref.Kind)
	case !spec.container && ref.ContainerID != "":
		return fmt.Errorf("%w: %s takes no container id", ErrInvalidRef, ref.Kind)
	case !spec.parent && ref.ParentID != "":
		return fmt.Errorf("%w: %s takes no parent id", ErrInvalidRef, ref.Kind)
	case ref.FolderID != "" && (ref.Kind != BrowseTeamFiles || ref.ParentID == ""):
		return fmt.Errorf("%w: a folder id is for teamFiles inside a channel", ErrInvalidRef)
	case ref.Kind == BrowseTeamFiles && c.apiVersion == APIv8 && ref.ParentID == "":
		return fmt.Errorf("%w: on v8 a team's files are listed per channel: teamFiles needs the channel as parent id", ErrInvalidRef)
	}
	return nil
}

// browseCall maps ref to its listing GET.
func (c *Client) browseCall(sessionID string, ref BrowseRef) (listCall, error) {
	if err := c.checkRef(sessionID, ref); err != nil {
		return listCall{}, err
	}
	r := restoreSessionPath(sessionID)
	cont, q := escape(ref.ContainerID), url.Values{}
	setIf := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	call := func(path string, shape itemShape) (listCall, error) {
		return listCall{method: http.MethodGet, path: r + path, query: q, shape: shape}, nil
	}
	switch ref.Kind {
	case BrowseMailboxes:
		return call("/organization/mailboxes", shapeMailbox)
	case BrowseMailFolders:
		setIf("parentId", ref.ParentID)
		return call("/organization/mailboxes/"+cont+"/folders", shapeMailFolder)
	case BrowseMailItems:
		if c.apiVersion == APIv8 {
			setIf("parentId", ref.ParentID)
		} else {
			setIf("folderId", ref.ParentID)
		}
		return call("/organization/mailboxes/"+cont+"/items", shapeMailItem)
	case BrowseOneDrives:
		return call("/Organization/OneDrives", shapeOneDrive)
	case BrowseDriveFolders:
		setIf("parentId", ref.ParentID)
		return call("/Organization/OneDrives/"+cont+"/Folders", shapeDriveFolder)
	case BrowseDriveDocuments:
		setIf("parentId", ref.ParentID)
		return call("/Organization/OneDrives/"+cont+"/Documents", shapeDocument)
	case BrowseSites:
		setIf("parentId", ref.ParentID)
		return call("/Organization/Sites", shapeSite)
	case BrowseSiteLibraries:
		return call("/Organization/Sites/"+cont+"/Libraries", shapeLibrary)
	case BrowseSiteLists:
		return call("/Organization/Sites/"+cont+"/Lists", shapeList)
	case BrowseSiteFolders:
		setIf("parentId", ref.ParentID)
		return call("/Organization/Sites/"+cont+"/Folders", shapeSiteFolder)
	case BrowseSiteDocuments:
		setIf("parentId", ref.ParentID)
		return call("/Organization/Sites/"+cont+"/Documents", shapeDocument)
	case BrowseSiteItems:
		setIf("parentId", ref.ParentID)
		return call("/Organization/Sites/"+cont+"/Items", shapeSiteItem)
	case BrowseTeams:
		return call("/organization/teams", shapeTeam)
	case BrowseChannels:
		return call("/organization/teams/"+cont+"/channels", shapeChannel)
	case BrowsePosts:
		setIf("channelId", ref.ParentID)
		return call("/organization/teams/"+cont+"/posts", shapePost)
	case BrowseTeamFiles:
		setIf("channelId", ref.ParentID)
		setIf("parentId", ref.FolderID)
		return call("/organization/teams/"+cont+"/files", shapeTeamFile)
	}
	return listCall{}, fmt.Errorf("%w: unknown browse kind %q", ErrInvalidRef, ref.Kind)
}

// searchBody is RESTSearchOptions / RESTVESPSearchOptions.
type searchBody struct {
	Query string `json:"query"`
}

// searchCall maps a search of ref to its call.
func (c *Client) searchCall(sessionID string, ref BrowseRef, query string) (listCall, error) {
	if err := c.checkRef(sessionID, ref); err != nil {
		return listCall{}, err
	}
	if query == "" {
		return listCall{}, fmt.Errorf("%w: empty search query", ErrInvalidRef)
	}
	r := restoreSessionPath(sessionID)
	cont, parent, q := escape(ref.ContainerID), escape(ref.ParentID), url.Values{}
	post := func(path string, shape itemShape) (listCall, error) {
		return listCall{method: http.MethodPost, path: r + path, query: q, body: searchBody{Query: query}, shape: shape}, nil
	}
	get := func(path string, shape itemShape) (listCall, error) {
		return listCall{method: http.MethodGet, path: r + path, query: q, shape: shape}, nil
	}
	under := func(base, child string) string { // base/child/P/search, or base/search without P
		if ref.ParentID == "" {
			return base + "/search"
		}
		return base + "/" + child + "/" + parent + "/search"
	}
	switch ref.Kind {
	case BrowseMailboxes:
		return post("/organization/mailboxes/search", shapeMailItem)
	case BrowseMailItems:
		return post(under("/organization/mailboxes/"+cont, "folders"), shapeMailItem)
	case BrowseMailFolders:
		q.Set("name", query)
		if ref.ParentID != "" {
			q.Set("parentId", ref.ParentID)
		}
		return get("/organization/mailboxes/"+cont+"/folders", shapeMailFolder)
	case BrowseOneDrives:
		q.Set("itemType", "All")
		return post("/Organization/OneDrives/search", shapeFound)
	case BrowseDriveFolders, BrowseDriveDocuments:
		q.Set("itemType", map[BrowseKind]string{BrowseDriveFolders: "Folders", BrowseDriveDocuments: "Documents"}[ref.Kind])
		return post(under("/Organization/OneDrives/"+cont, "Folders"), shapeFound)
	case BrowseSites:
		q.Set("itemType", "All")
		if ref.ParentID != "" {
			return post("/Organization/Sites/"+parent+"/search", shapeFound)
		}
		return post("/Organization/Sites/search", shapeFound)
	case BrowseSiteLibraries, BrowseSiteLists:
		q.Set("itemType", "All")
		return post("/Organization/Sites/"+cont+"/search", shapeFound)
	case BrowseSiteFolders, BrowseSiteDocuments, BrowseSiteItems:
		q.Set("itemType", map[BrowseKind]string{BrowseSiteFolders: "Folders", BrowseSiteDocuments: "Items", BrowseSiteItems: "Items"}[ref.Kind])
		return post(under("/Organization/Sites/"+cont, "Folders"), shapeFound)
	case BrowseTeams:
		q.Set("displayName", query)
		return get("/organization/teams", shapeTeam)
	case BrowseChannels:
		q.Set("displayName", query)
		return get("/organization/teams/"+cont+"/channels", shapeChannel)
	case BrowsePosts:
		if c.apiVersion == APIv8 && ref.ParentID != "" {
			q.Set("channelId", ref.ParentID)
		}
		return post("/organization/teams/"+cont+"/posts/search", shapePost)
	case BrowseTeamFiles:
		if c.apiVersion == APIv8 {
			q.Set("channelId", ref.ParentID)
			if ref.FolderID != "" {
				q.Set("parentId", ref.FolderID)
			}
		}
		return post("/organization/teams/"+cont+"/files/search", shapeTeamFile)
	}
	return listCall{}, fmt.Errorf("%w: unknown browse kind %q", ErrInvalidRef, ref.Kind)
}

// listItems performs call with paging and maps the answer.
func (c *Client) listItems(ctx context.Context, call listCall, opts ListOptions) (*Page[BrowseItem], *Response, error) {
	q := opts.values()
	for k, v := range call.query {
		q[k] = v
	}
	var raw Page[rawItem]
	var resp *Response
	var err error
	if call.method == http.MethodGet {
		resp, err = c.get(ctx, call.path, q, pageOf(&raw, opts.Limit))
	} else {
		resp, err = c.post(ctx, postReadOnly, call.path, q, call.body, pageOf(&raw, opts.Limit))
	}
	if err != nil {
		return nil, resp, err
	}
	page := &Page[BrowseItem]{Offset: raw.Offset, Limit: raw.Limit, SetID: raw.SetID, Links: raw.Links,
		TotalCount: raw.TotalCount, Results: make([]BrowseItem, 0, len(raw.Results))}
	for i := range raw.Results {
		page.Results = append(page.Results, raw.Results[i].item(call.shape))
	}
	return page, resp, nil
}

// rawItem holds the fields BrowseItem reads from every workload's item schema.
type rawItem struct {
	ID               string     `json:"id"`
	PostID           *int64     `json:"postId"`
	Name             string     `json:"name"`
	DisplayName      string     `json:"displayName"`
	Subject          string     `json:"subject"`
	Title            string     `json:"title"`
	Email            string     `json:"email"`
	GroupEmail       string     `json:"groupEmail"`
	URL              string     `json:"url"`
	ItemClass        string     `json:"itemClass"`
	FileType         string     `json:"fileType"`
	IsFolder         *bool      `json:"isFolder"`
	SizeBytes        *int64     `json:"sizeBytes"`
	ModificationTime *time.Time `json:"modificationTime"`
	Modified         *time.Time `json:"modified"`
	LastModifiedTime *time.Time `json:"lastModifiedTime"`
	CreatedTime      *time.Time `json:"createdTime"`
	Received         *time.Time `json:"received"`
	Sent             *time.Time `json:"sent"`
	PostedOn         *time.Time `json:"postedOn"`
	StartTime        *time.Time `json:"startTime"`
}

func firstTime(ts ...*time.Time) *time.Time {
	for _, t := range ts {
		if t != nil && !t.IsZero() {
			return t
		}
	}
	return nil
}

// item maps r, read as shape, to a BrowseItem.
func (r *rawItem) item(shape itemShape) BrowseItem {
	it := BrowseItem{ID: r.ID, Name: r.Name}
	folder := r.IsFolder != nil && *r.IsFolder
	switch shape {
	case shapeMailbox:
		it.Type, it.Email, it.HasChildren = "Mailbox", r.Email, true
	case shapeMailFolder:
		it.Type, it.HasChildren = "Folder", true
	case shapeMailItem:
		it.Name = firstNonEmpty(r.Subject, r.Name, r.DisplayName)
		it.Type = r.ItemClass
		it.Modified = firstTime(r.Received, r.Sent, r.PostedOn, r.StartTime)
	case shapeOneDrive:
		it.Type, it.URL, it.HasChildren = "OneDrive", r.URL, true
	case shapeDriveFolder, shapeSiteFolder:
		it.Type, it.Modified, it.HasChildren = "Folder", r.ModificationTime, true
	case shapeDocument, shapeFound:
		it.Type, it.Size, it.Modified, it.HasChildren = "Document", r.SizeBytes, r.ModificationTime, folder
		if folder {
			it.Type, it.Size = "Folder", nil
		} else if shape == shapeFound && r.SizeBytes == nil {
			it.Type = "Item" // a SharePoint list item (no size)
		}
		it.Name = firstNonEmpty(r.Name, r.Title)
	case shapeSite:
		it.Type, it.URL, it.HasChildren = "Site", r.URL, true
	case shapeLibrary:
		it.Type, it.URL, it.HasChildren = "Library", r.URL, true
	case shapeList:
		it.Type, it.URL, it.HasChildren = "List", r.URL, true
	case shapeSiteItem:
		it.Name = firstNonEmpty(r.Title, r.Name)
		it.Type, it.Modified, it.HasChildren = "Item", r.ModificationTime, folder
		if folder {
			it.Type = "Folder"
		}
	case shapeTeam:
		it.Name = firstNonEmpty(r.DisplayName, r.Name)
		it.Type, it.Email, it.HasChildren = "Team", r.GroupEmail, true
	case shapeChannel:
		it.Name = firstNonEmpty(r.DisplayName, r.Name)
		it.Type, it.HasChildren = "Channel", true
	case shapePost:
		if r.PostID != nil && it.ID == "" {
			it.ID = strconv.FormatInt(*r.PostID, 10)
		}
		it.Name = r.Subject
		it.Type, it.Modified = "Post", firstTime(r.LastModifiedTime, r.CreatedTime)
	case shapeTeamFile:
		it.Type, it.Size, it.Modified = firstNonEmpty(r.FileType, "File"), r.SizeBytes, r.Modified
		it.HasChildren = r.FileType == "Folder"
		if it.HasChildren {
			it.Size = nil
		}
	}
	return it
}
