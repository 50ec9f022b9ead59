package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Item actions on an open restore session (issue 25): save (a streamed download), send by
// email, restore to another location, restore to the original location, and the device code
// those restores may authenticate with. Every action is a state-changing POST: sent once, never
// retried, failures typed as *ActionError (restore_post.go).
//
// The items are named as the front door browsed them: a BrowseRef (the collection they were
// listed from) and their ids. Where VBO's documents require more of an item than its id
// (OneDrive and SharePoint documents, SharePoint list items, Teams files), the body carries the
// item's object as VBO answers it, read back from the session just before the POST
// (restore_items.go). Paths ({R} = RestoreSessions/{sessionId}; C = ContainerID,
// P = ParentID; the same on v6 and v8, which differ in their answers):
//
//	ref kind        collection                              list key   save  send  restoreTo  restore
//	mailItems       {R}/organization/mailboxes/C/items      items      Save  sendToDefaultAddress | sendToDifferentAddress  restoreTo  restore
//	driveDocuments  {R}/Organization/OneDrives/C/Documents  documents  save  send  copyTo     restore
//	siteDocuments   {R}/Organization/Sites/C/Documents      documents  save  send  restoreTo  restore
//	siteItems       {R}/Organization/Sites/C/Items          items      -     -     restoreTo  restore
//	teamFiles       {R}/organization/teams/C/files          files      save  send  -          restore   (channelId P in the body)
//	posts           {R}/organization/teams/C/posts          posts      save  send  -          restore   (channelId P; restore takes no ids)
//	teams           {R}/organization/teams/{id}/restore     -          -     -     -          restore   (one team id)
//
// Answers: save 200 octet-stream (both); send v6 200, v8 204 (no body); restore and restoreTo
// v6 200 with restore statistics (synchronous), v8 200 with {sessionId} (asynchronous: follow
// the session's Events and Statistics).

// ActionItems names the items an action applies to: the collection they were browsed in and
// their ids (the client reads the objects VBO needs itself: NeedsItemObjects).
type ActionItems struct {
	Ref BrowseRef
	IDs []string
}

// Workload is the Microsoft 365 workload of a restore session.
type Workload string

// Workloads.
const (
	WorkloadExchange   Workload = "Exchange"
	WorkloadOneDrive   Workload = "OneDrive"
	WorkloadSharePoint Workload = "SharePoint"
	WorkloadTeams      Workload = "Teams"
)

// actionVerbs are the path verbs of a collection ("" : the collection has no such action).
type actionVerbs struct {
	workload                   Workload
	key                        string // the body's item list (the collection's path is browseCall's)
	save, send, restoreTo, org string
	sendDefault                string // Exchange only
}

var actionCollections = map[BrowseKind]actionVerbs{
	BrowseMailItems:      {WorkloadExchange, "items", "Save", "sendToDifferentAddress", "restoreTo", "restore", "sendToDefaultAddress"},
	BrowseDriveDocuments: {WorkloadOneDrive, "documents", "save", "send", "copyTo", "restore", ""},
	BrowseSiteDocuments:  {WorkloadSharePoint, "documents", "save", "send", "restoreTo", "restore", ""},
	BrowseSiteItems:      {WorkloadSharePoint, "items", "", "", "restoreTo", "restore", ""},
	BrowseTeamFiles:      {WorkloadTeams, "files", "save", "send", "", "restore", ""},
	BrowsePosts:          {WorkloadTeams, "posts", "save", "send", "", "restore", ""},
	BrowseTeams:          {WorkloadTeams, "", "", "", "", "restore", ""},
}

// WorkloadOf returns the workload of the items ref lists, and whether they have actions.
func WorkloadOf(kind BrowseKind) (Workload, bool) {
	v, ok := actionCollections[kind]
	return v.workload, ok
}

// actionPath checks items for the action verb picks and returns the action's path.
func (c *Client) actionPath(sessionID string, items ActionItems, verb func(actionVerbs) string, what string) (actionVerbs, string, error) {
	v, ok := actionCollections[items.Ref.Kind]
	if !ok || verb(v) == "" {
		return v, "", fmt.Errorf("%s %s: %w", what, items.Ref.Kind, ErrUnsupported)
	}
	// The collection's path is the one its items were listed from (browseCall checks the ref).
	list, err := c.browseCall(sessionID, items.Ref)
	if err != nil {
		return v, "", err
	}
	if items.Ref.FolderID != "" {
		return v, "", fmt.Errorf("%w: an action names its items by id, not by folder", ErrInvalidRef)
	}
	if (v.workload == WorkloadTeams && items.Ref.Kind != BrowseTeams) && items.Ref.ParentID == "" {
		return v, "", fmt.Errorf("%w: Teams %s actions need the channel as parent id", ErrInvalidRef, items.Ref.Kind)
	}
	for _, id := range items.IDs {
		if err := checkID("item", id); err != nil {
			return v, "", err
		}
	}
	if items.Ref.Kind == BrowseTeams {
		if len(items.IDs) != 1 {
			return v, "", fmt.Errorf("%w: a team restore takes exactly one team id", ErrInvalidRef)
		}
		return v, list.path + "/" + escape(items.IDs[0]) + "/" + verb(v), nil
	}
	return v, list.path + "/" + verb(v), nil
}

// needIDs refuses an empty item list (VBO would act on nothing, or on everything).
func needIDs(items ActionItems) error {
	if len(items.IDs) == 0 {
		return fmt.Errorf("%w: no item ids", ErrInvalidRef)
	}
	return nil
}

// itemList is the body's list of items by id: [{"postId":n}] for posts, else [{"id":...}]
// (withItemObjects replaces it with the items' objects where VBO requires them).
func itemList(kind BrowseKind, ids []string) (any, error) {
	if kind == BrowsePosts {
		posts := make([]map[string]int64, 0, len(ids))
		for _, id := range ids {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: post id %q is not a number", ErrInvalidRef, id)
			}
			posts = append(posts, map[string]int64{"postId": n})
		}
		return posts, nil
	}
	list := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		list = append(list, map[string]string{"id": id})
	}
	return list, nil
}

// actionBody is the common part of a body: the item list under its key, the channel for Teams.
func actionBody(v actionVerbs, items ActionItems) (map[string]any, error) {
	body := map[string]any{}
	if v.key != "" {
		list, err := itemList(items.Ref.Kind, items.IDs)
		if err != nil {
			return nil, err
		}
		body[v.key] = list
	}
	if v.workload == WorkloadTeams && items.Ref.ParentID != "" {
		body["channelId"] = items.Ref.ParentID
	}
	return body, nil
}

// jsonBody encodes a request body (nil: none).
func jsonBody(body any) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode VBO request body: %w", err)
	}
	return b, nil
}

// notSent wraps a refusal made before sending.
func notSent(err error) error { return &ActionError{Outcome: OutcomeNotSent, Err: err} }

// itemsAction checks items for the action verb picks and returns the action's path and the
// common part of its body (the items by id: sendItems puts their objects in when VBO needs
// them); an error is the action's, not sent.
func (c *Client) itemsAction(sessionID string, items ActionItems, verb func(actionVerbs) string, what string) (actionVerbs, string, map[string]any, error) {
	v, path, err := c.actionPath(sessionID, items, verb, what)
	if err == nil {
		err = needIDs(items)
	}
	var body map[string]any
	if err == nil {
		body, err = actionBody(v, items)
	}
	if err != nil {
		return v, "", nil, notSent(err)
	}
	return v, path, body, nil
}

// withItemObjects replaces the ids of body's item list with the items' objects read back from
// VBO when the collection's schema requires them (restore_items.go): the last step before an
// action's POST, once everything else about it has been checked. An error is the action's, not
// sent.
func (c *Client) withItemObjects(ctx context.Context, sessionID string, v actionVerbs, items ActionItems, body map[string]any) error {
	objects, err := c.itemObjects(ctx, sessionID, items)
	if err != nil {
		return notSent(err)
	}
	if objects != nil && v.key != "" {
		body[v.key] = objects
	}
	return nil
}

// SaveItems downloads items (POST …/Save or …/save; Exchange: MSG, or a ZIP of several; OneDrive,
// SharePoint and Teams: the file, or a ZIP). The answer is streamed: the caller closes
// Download.Body.
func (c *Client) SaveItems(ctx context.Context, sessionID string, items ActionItems) (*Download, error) {
	v, path, body, err := c.itemsAction(sessionID, items, func(v actionVerbs) string { return v.save }, "save")
	if err == nil {
		err = c.withItemObjects(ctx, sessionID, v, items, body)
	}
	if err != nil {
		return nil, err
	}
	return c.postDownload(ctx, path, body)
}

// SendOptions address a send. To empty sends Exchange items to their mailbox's own address
// (sendToDefaultAddress); other workloads need To. Several addresses are joined with ";" as VBO
// takes them.
type SendOptions struct {
	From, Subject, Text string
	To                  []string
}

// SendItems emails items (Exchange sendToDefaultAddress / sendToDifferentAddress; OneDrive,
// SharePoint and Teams send; v6 200, v8 204).
func (c *Client) SendItems(ctx context.Context, sessionID string, items ActionItems, opts SendOptions) (*Response, error) {
	toDefault := len(opts.To) == 0
	v, path, body, err := c.itemsAction(sessionID, items, func(v actionVerbs) string {
		if toDefault {
			return v.sendDefault
		}
		return v.send
	}, "send")
	if err != nil {
		return nil, err
	}
	if !toDefault {
		for _, a := range opts.To {
			if a == "" || strings.ContainsAny(a, ";,\r\n") {
				return nil, notSent(fmt.Errorf("%w: recipient %q", ErrInvalidRef, a))
			}
		}
		body["to"] = strings.Join(opts.To, ";")
		for k, s := range map[string]string{"from": opts.From, "subject": opts.Subject, "text": opts.Text} {
			if s != "" {
				body[k] = s
			}
		}
	}
	if err := c.withItemObjects(ctx, sessionID, v, items, body); err != nil {
		return nil, err
	}
	return c.post(ctx, postAction, path, nil, body, nil)
}

// RestoreResult is the answer of a restore: v6 restores synchronously and answers counts
// (Async false); v8 answers the id of the restore session that carries the outcome (Async true,
// SessionID set: follow its Events and RestoreSessionStatistics).
type RestoreResult struct {
	Async     bool
	SessionID string
	Total     int64 // when VBO says
	Created   int64 // created or restored
	Merged    int64
	Skipped   int64
	Failed    int64
	Warnings  []string
	// Exceptions are VBO's error texts (exceptions, cannotContinueError, restore issues' errors).
	Exceptions []string
}

// restoreAnswer is the union of RESTItemsRestoreStatistics, RESTItemRestoreStatistics,
// RESTRestoreStatistics (v6) and RESTAsyncRestoreResponse (v8).
type restoreAnswer struct {
	SessionID           string   `json:"sessionId"`
	Total               int64    `json:"totalItemsCount"`
	Created             int64    `json:"createdItemsCount"`
	Restored            int64    `json:"restoredItemsCount"`
	Merged              int64    `json:"mergedItemsCount"`
	Failed              int64    `json:"failedItemsCount"`
	Skipped             int64    `json:"skippedItemsCount"`
	SkippedByError      int64    `json:"skippedItemsByErrorCount"`
	SkippedByNoChanges  int64    `json:"skippedItemsByNoChangesCount"`
	Exceptions          []string `json:"exceptions"`
	Warnings            []string `json:"warnings"`
	CannotContinueError string   `json:"cannotContinueError"`
	RestoreIssues       []struct {
		Error    string   `json:"error"`
		Warnings []string `json:"warnings"`
	} `json:"restoreIssues"`
}

func (a *restoreAnswer) result() *RestoreResult {
	r := &RestoreResult{SessionID: a.SessionID, Async: a.SessionID != "", Total: a.Total,
		Created: a.Created + a.Restored, Merged: a.Merged, Failed: a.Failed,
		Skipped:  a.Skipped + a.SkippedByError + a.SkippedByNoChanges,
		Warnings: a.Warnings, Exceptions: a.Exceptions}
	if a.CannotContinueError != "" {
		r.Exceptions = append(r.Exceptions, a.CannotContinueError)
	}
	for _, is := range a.RestoreIssues {
		r.Warnings = append(r.Warnings, is.Warnings...)
		if is.Error != "" {
			r.Exceptions = append(r.Exceptions, is.Error)
		}
	}
	return r
}

// RestoreTarget is where RestoreItemsTo puts items, per workload (other fields are ignored):
//
//	Exchange:   Mailbox (address), Folder, MarkRestoredAsUnread, ChangedItems, DeletedItems
//	OneDrive:   OneDriveID, OneDriveName, OneDriveURL, Folder, DocumentVersion, DocumentLastVersionAction
//	            (v8 also ChangedItems, DeletedItems)
//	SharePoint: SiteURL, List, DocumentVersion, DocumentLastVersionAction
//
// OfficeRegion and OrganizationName name the target Microsoft 365 organisation (optional).
type RestoreTarget struct {
	Mailbox, Folder                                  string
	OneDriveID, OneDriveName, OneDriveURL            string
	SiteURL, List                                    string
	DocumentVersion                                  string // All | Last
	DocumentLastVersionAction                        string // Overwrite | Merge
	ChangedItems, DeletedItems, MarkRestoredAsUnread *bool
	OfficeRegion, OrganizationName                   string
	Credentials                                      *RestoreCredentials
}

// RestoreItemsTo restores items to another location (Exchange restoreTo, OneDrive copyTo,
// SharePoint restoreTo). Teams has no such action (ErrUnsupported).
func (c *Client) RestoreItemsTo(ctx context.Context, sessionID string, items ActionItems, to RestoreTarget) (*RestoreResult, *Response, error) {
	v, path, body, err := c.itemsAction(sessionID, items, func(v actionVerbs) string { return v.restoreTo }, "restore to another location")
	if err != nil {
		return nil, nil, err
	}
	setCredentials(body, to.Credentials)
	setIf := func(k, s string) {
		if s != "" {
			body[k] = s
		}
	}
	setBool := func(k string, b *bool) {
		if b != nil {
			body[k] = *b
		}
	}
	switch v.workload {
	case WorkloadExchange:
		if to.Mailbox == "" {
			return nil, nil, notSent(fmt.Errorf("%w: restore to another mailbox needs the mailbox", ErrInvalidRef))
		}
		if to.Credentials != nil {
			setImpersonation(body, to.Credentials.ImpersonationAccountName)
		}
		setIf("mailbox", to.Mailbox)
		setIf("folder", to.Folder)
		setIf("officeRegion", to.OfficeRegion)
		setIf("officeOrganizationName", to.OrganizationName)
		setBool("changedItems", to.ChangedItems)
		setBool("deletedItems", to.DeletedItems)
		setBool("markRestoredAsUnread", to.MarkRestoredAsUnread)
	case WorkloadOneDrive:
		if to.OneDriveID == "" && to.OneDriveURL == "" {
			return nil, nil, notSent(fmt.Errorf("%w: copy to another OneDrive needs the OneDrive", ErrInvalidRef))
		}
		od := map[string]string{}
		for k, s := range map[string]string{"id": to.OneDriveID, "name": to.OneDriveName, "url": to.OneDriveURL} {
			if s != "" {
				od[k] = s
			}
		}
		body["onedrive"] = od
		setIf("folder", to.Folder)
		setIf("documentVersion", to.DocumentVersion)
		setIf("documentLastVersionAction", to.DocumentLastVersionAction)
		setIf("officeRegion", to.OfficeRegion)
		setIf("organizationName", to.OrganizationName)
		if c.apiVersion == APIv8 {
			setBool("changedItems", to.ChangedItems)
			setBool("deletedItems", to.DeletedItems)
		}
	case WorkloadSharePoint:
		if to.SiteURL == "" {
			return nil, nil, notSent(fmt.Errorf("%w: restore to another site needs the site URL", ErrInvalidRef))
		}
		setIf("siteURL", to.SiteURL)
		setIf("list", to.List)
		setIf("documentVersion", to.DocumentVersion)
		setIf("documentLastVersionAction", to.DocumentLastVersionAction)
		setIf("officeRegion", to.OfficeRegion)
		setIf("organizationName", to.OrganizationName)
	}
	if err := c.withItemObjects(ctx, sessionID, v, items, body); err != nil {
		return nil, nil, err
	}
	return c.restoreCall(ctx, path, body)
}

// Conflict is what a restore to the original location does with an item that exists there.
type Conflict string

// Conflicts. VBO's options per workload: OneDrive documentAction Keep|Overwrite; SharePoint
// documentLastVersionAction Overwrite|Merge; Exchange has none (restored items are added);
// Teams files and channels restoreChangedItems (Overwrite) / restoreMissingItems (always).
const (
	ConflictKeep      Conflict = "Keep"
	ConflictOverwrite Conflict = "Overwrite"
	ConflictMerge     Conflict = "Merge"
)

// RestoreOriginalOptions configure a restore to the original location. It is destructive: it
// writes into the live Microsoft 365 data.
type RestoreOriginalOptions struct {
	Credentials RestoreCredentials
	Conflict    Conflict
	// Exchange: the account that impersonates the mailboxes (application credentials).
	ImpersonationAccountName string
	// SharePoint: RestorePermissions; SharePoint and OneDrive: DocumentVersion (All | Last).
	RestorePermissions *bool
	DocumentVersion    string
	// Teams: a team restore's RestoreMembers and RestoreSettings change the live team (they are
	// destructive beyond the items); RestoreMissingItems restores what was deleted (default
	// true). Posts restore the channel's posts between PostsFrom and PostsTo.
	RestoreMembers, RestoreSettings bool
	RestoreMissingItems             *bool
	PostsFrom, PostsTo              *time.Time
	// OfficeRegion and OrganizationName (OneDrive) name the organisation.
	OfficeRegion, OrganizationName string
}

// RestoreItemsToOriginal restores items to where they were (POST …/restore). Posts restore by
// channel and time window: ids are refused; a team restore takes the one team id.
func (c *Client) RestoreItemsToOriginal(ctx context.Context, sessionID string, items ActionItems, opts RestoreOriginalOptions) (*RestoreResult, *Response, error) {
	v, path, err := c.actionPath(sessionID, items, func(v actionVerbs) string { return v.org }, "restore to the original location")
	if err == nil && items.Ref.Kind == BrowsePosts && len(items.IDs) > 0 {
		err = fmt.Errorf("%w: VBO restores a channel's posts by time window, not by id", ErrInvalidRef)
	} else if err == nil && items.Ref.Kind != BrowsePosts {
		err = needIDs(items)
	}
	if err == nil && opts.Credentials.kind() == "none" {
		err = fmt.Errorf("%w: a restore to the original location needs Microsoft 365 credentials", ErrInvalidRef)
	}
	if err != nil {
		return nil, nil, notSent(err)
	}
	body := map[string]any{}
	if items.Ref.Kind != BrowseTeams && items.Ref.Kind != BrowsePosts {
		if body, err = actionBody(v, items); err != nil {
			return nil, nil, notSent(err)
		}
	}
	setCredentials(body, &opts.Credentials)
	missing := opts.RestoreMissingItems == nil || *opts.RestoreMissingItems
	switch items.Ref.Kind {
	case BrowseMailItems:
		setImpersonation(body, opts.ImpersonationAccountName, opts.Credentials.ImpersonationAccountName)
	case BrowseDriveDocuments:
		if opts.Conflict != "" {
			if opts.Conflict == ConflictMerge {
				return nil, nil, notSent(fmt.Errorf("%w: OneDrive restores keep or overwrite, not merge", ErrInvalidRef))
			}
			body["documentAction"] = string(opts.Conflict)
		}
		for k, s := range map[string]string{"officeRegion": opts.OfficeRegion, "organizationName": opts.OrganizationName} {
			if s != "" {
				body[k] = s
			}
		}
	case BrowseSiteDocuments, BrowseSiteItems:
		switch opts.Conflict {
		case "":
		case ConflictKeep:
			return nil, nil, notSent(fmt.Errorf("%w: SharePoint restores overwrite or merge the last version", ErrInvalidRef))
		default:
			body["documentLastVersionAction"] = string(opts.Conflict)
		}
		if opts.RestorePermissions != nil {
			body["restorePermissions"] = *opts.RestorePermissions
		}
		if opts.DocumentVersion != "" {
			body["documentVersion"] = opts.DocumentVersion
		}
	case BrowseTeamFiles:
		body["restoreChangedItems"] = opts.Conflict == ConflictOverwrite
		body["restoreMissingItems"] = missing
		body["fileVersion"] = firstNonEmpty(opts.DocumentVersion, "Last")
	case BrowsePosts:
		body["channelId"] = items.Ref.ParentID
		if opts.PostsFrom != nil {
			body["from"] = vboTime(*opts.PostsFrom)
		}
		if opts.PostsTo != nil {
			body["to"] = vboTime(*opts.PostsTo)
		}
	case BrowseTeams:
		body["restoreChangedItems"] = opts.Conflict == ConflictOverwrite
		body["restoreMissingItems"] = missing
		body["restoreMembers"] = opts.RestoreMembers
		body["restoreSettings"] = opts.RestoreSettings
		setImpersonation(body, opts.ImpersonationAccountName, opts.Credentials.ImpersonationAccountName)
	}
	if err := c.withItemObjects(ctx, sessionID, v, items, body); err != nil {
		return nil, nil, err
	}
	return c.restoreCall(ctx, path, body)
}

// Destructive reports whether a restore to the original location with opts changes more than
// the items themselves (a Teams restore of members or settings).
func (o RestoreOriginalOptions) Destructive() bool { return o.RestoreMembers || o.RestoreSettings }

// setCredentials adds the credentials' fields (with their secrets) to a body.
func setCredentials(body map[string]any, creds *RestoreCredentials) {
	cb := creds.body()
	for k, s := range map[string]string{"userName": cb.UserName, "userPassword": cb.UserPassword, "userCode": cb.UserCode,
		"applicationId": cb.ApplicationID, "applicationCertificate": cb.ApplicationCertificate,
		"applicationCertificatePassword": cb.ApplicationCertificatePassword} {
		if s != "" {
			body[k] = s
		}
	}
}

// setImpersonation adds the Exchange/Teams impersonation account (the first one set).
func setImpersonation(body map[string]any, names ...string) {
	if n := firstNonEmpty(names...); n != "" {
		body["impersonationAccountName"] = n
	}
}

// restoreCall sends a restore and reads its answer (v6 statistics, v8 {sessionId}).
func (c *Client) restoreCall(ctx context.Context, path string, body map[string]any) (*RestoreResult, *Response, error) {
	var a restoreAnswer
	resp, err := c.post(ctx, postAction, path, nil, body, &a)
	if err != nil {
		return nil, resp, err
	}
	return a.result(), resp, nil
}

// DeviceCodeRequest is RESTDeviceCodeRequestOptions: the Microsoft 365 application and
// organisation a restore will authenticate to.
type DeviceCodeRequest struct {
	TargetApplicationID    string
	TargetRegion           string // Worldwide (default), Germany, China, USDefence, USGovernment
	TargetOrganizationName string
}

// DeviceCode is RESTDeviceCodeResponse: the code a person enters at VerificationURL; the
// restore then passes it as RestoreCredentials.UserCode.
type DeviceCode struct {
	UserCode        string `json:"userCode"`
	VerificationURL string `json:"verificationUrl"`
	ExpiresIn       int64  `json:"expiresIn"` // seconds
	Message         string `json:"message"`
}

// String redacts the user code (it authorises a restore until it expires).
func (d DeviceCode) String() string {
	return fmt.Sprintf("DeviceCode{verificationUrl=%s expiresIn=%d userCode=%s}", d.VerificationURL, d.ExpiresIn, redacted)
}

// GoString is String.
func (d DeviceCode) GoString() string { return d.String() }

// LogValue logs what String shows: no user code, and no message (VBO's message repeats it).
func (d DeviceCode) LogValue() slog.Value {
	return slog.GroupValue(slog.String("verificationUrl", d.VerificationURL), slog.Int64("expiresIn", d.ExpiresIn),
		slog.String("userCode", redacted))
}

// RestoreDeviceCode asks VBO for a Microsoft device code (POST {R}/organization/restoreDeviceCode,
// 200 on both versions). Sent once, as an action.
func (c *Client) RestoreDeviceCode(ctx context.Context, sessionID string, r DeviceCodeRequest) (*DeviceCode, *Response, error) {
	if err := checkID("session", sessionID); err != nil {
		return nil, nil, notSent(err)
	}
	body := map[string]string{}
	for k, s := range map[string]string{"targetApplicationId": r.TargetApplicationID, "targetRegion": r.TargetRegion,
		"targetOrganizationName": r.TargetOrganizationName} {
		if s != "" {
			body[k] = s
		}
	}
	var d DeviceCode
	resp, err := c.post(ctx, postAction, restoreSessionPath(sessionID)+"/organization/restoreDeviceCode", nil, body, &d)
	if err != nil {
		return nil, resp, err
	}
	return &d, resp, nil
}
