package upstream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file is the contract of the restore front door (issue 24): explore, stop, statistics,
// browse and search on an open restore session. Explore and Stop are POSTs that change VBO's
// state: they are never retried. The search POSTs only read and follow the GET retry policy.

// ErrInvalidRef: a call named no session, item or organisation, or a BrowseRef that does not
// fit its kind (a missing container, a parent the kind has none of, an unknown kind). Nothing
// was sent.
var ErrInvalidRef = errors.New("upstream: invalid restore reference")

// ErrUnsupported is returned (wrapped) for an operation the server's API version lacks, such as
// Statistics on v6.
var ErrUnsupported = errors.New("upstream: not supported by this API version")

// ExploreType is the kind of restore session Explore opens (VBO's RESTExploreOptions.type).
type ExploreType string

// Explore types.
const (
	ExploreExchange   ExploreType = "Vex"
	ExploreOneDrive   ExploreType = "Veod"
	ExploreSharePoint ExploreType = "Vesp"
	ExploreTeams      ExploreType = "Vet"
)

// ExploreOptions is the body of POST Organizations/{id}/Explore.
type ExploreOptions struct {
	Type            ExploreType
	DateTime        *time.Time // nil: the latest restore point
	ShowDeleted     bool
	ShowAllVersions bool
	RepositoryID    string // v8 only; not sent to v6
}

// RestoreStatistics is v8's GET {R}/Statistics.
type RestoreStatistics struct {
	Total    int64
	Restored int64
	Failed   int64
	Skipped  int64
	Warnings []string
	Errors   []string
}

// BrowseKind names one browsable collection of an open restore session.
type BrowseKind string

// Browse kinds. ContainerID is the mailbox, OneDrive, site or team; ParentID the folder,
// library, list or channel inside it ("" for the container's top level).
const (
	BrowseMailboxes      BrowseKind = "mailboxes"      // no container
	BrowseMailFolders    BrowseKind = "mailFolders"    // container mailbox; parent folder optional
	BrowseMailItems      BrowseKind = "mailItems"      // container mailbox; parent folder
	BrowseOneDrives      BrowseKind = "oneDrives"      // no container
	BrowseDriveFolders   BrowseKind = "driveFolders"   // container OneDrive; parent folder optional
	BrowseDriveDocuments BrowseKind = "driveDocuments" // container OneDrive; parent folder optional
	BrowseSites          BrowseKind = "sites"          // no container (v8: parent site optional)
	BrowseSiteLibraries  BrowseKind = "siteLibraries"  // container site
	BrowseSiteLists      BrowseKind = "siteLists"      // container site
	BrowseSiteFolders    BrowseKind = "siteFolders"    // container site; parent library/folder
	BrowseSiteDocuments  BrowseKind = "siteDocuments"  // container site; parent library/folder
	BrowseSiteItems      BrowseKind = "siteItems"      // container site; parent list/folder
	BrowseTeams          BrowseKind = "teams"          // no container
	BrowseChannels       BrowseKind = "channels"       // container team
	BrowsePosts          BrowseKind = "posts"          // container team; parent channel (v8) optional
	BrowseTeamFiles      BrowseKind = "teamFiles"      // container team; parent channel (v8 moved files under channels)
)

// BrowseRef addresses one collection of an open restore session.
type BrowseRef struct {
	Kind        BrowseKind
	ContainerID string
	ParentID    string
	// FolderID is the folder inside a team channel's files (teamFiles only; "" for the
	// channel's top level): a team's files sit under team, channel and folder.
	FolderID string
}

// BrowseItem is one entry of a browsed collection, mapped from the workload's own shape.
type BrowseItem struct {
	ID          string
	Name        string     // display name, subject or title
	Type        string     // VBO's item type where it has one (itemClass, "Folder", "Document", ...)
	Email       string     // mailboxes, OneDrives
	URL         string     // sites
	Size        *int64     // bytes, where VBO gives it
	Modified    *time.Time // last modified or received
	HasChildren bool       // a folder, library, list, channel or container
}

// Explore opens a restore session on an organisation (POST Organizations/{id}/explore; v6 200,
// v8 201). Never retried: a lost answer leaves a session the caller must find or let VBO reap.
// The body is RESTExploreOptions (v6) or RESTOrganizationExploreOptions (v8): dateTime only when
// set, repositoryId only on v8 (a v6 server has no such choice; it is not sent). A failure is an
// *ActionError (see MaybeApplied).
func (c *Client) Explore(ctx context.Context, organizationID string, opts ExploreOptions) (*RestoreSession, *Response, error) {
	if err := checkID("organisation", organizationID); err != nil {
		return nil, nil, &ActionError{Outcome: OutcomeNotSent, Err: err}
	}
	body := exploreBody{Type: opts.Type, ShowDeleted: opts.ShowDeleted, ShowAllVersions: opts.ShowAllVersions}
	if opts.DateTime != nil {
		t := vboTime(*opts.DateTime)
		body.DateTime = &t
	}
	if c.apiVersion == APIv8 {
		body.RepositoryID = opts.RepositoryID
	}
	var s RestoreSession
	resp, err := c.post(ctx, postAction, "Organizations/"+escape(organizationID)+"/explore", nil, body, &s)
	if err != nil {
		return nil, resp, err
	}
	return &s, resp, nil
}

// exploreBody is RESTExploreOptions / RESTOrganizationExploreOptions.
type exploreBody struct {
	DateTime        *string     `json:"dateTime,omitempty"`
	Type            ExploreType `json:"type,omitempty"`
	ShowDeleted     bool        `json:"showDeleted"`
	ShowAllVersions bool        `json:"showAllVersions"`
	RepositoryID    string      `json:"repositoryId,omitempty"`
}

// StopRestoreSession stops an open restore session (POST {R}/Stop, no body; v6 200, v8 204).
// Never retried; a failure is an *ActionError.
func (c *Client) StopRestoreSession(ctx context.Context, sessionID string) (*Response, error) {
	if err := checkID("session", sessionID); err != nil {
		return nil, &ActionError{Outcome: OutcomeNotSent, Err: err}
	}
	return c.post(ctx, postAction, restoreSessionPath(sessionID)+"/Stop", nil, nil, nil)
}

// RestoreSessionStatistics reads a session's item counts (GET {R}/Statistics, v8 only; other
// versions answer ErrUnsupported without a call).
func (c *Client) RestoreSessionStatistics(ctx context.Context, sessionID string) (*RestoreStatistics, *Response, error) {
	if c.apiVersion != APIv8 {
		return nil, nil, fmt.Errorf("restore session statistics on VBO API %s: %w", c.apiVersion, ErrUnsupported)
	}
	if err := checkID("session", sessionID); err != nil {
		return nil, nil, err
	}
	var raw struct {
		Total    int64    `json:"totalItemsCount"`
		Restored int64    `json:"restoredItemsCount"`
		Failed   int64    `json:"failedItemsCount"`
		Skipped  int64    `json:"skippedItemsCount"`
		Warnings []string `json:"warnings"`
		Errors   []string `json:"errors"`
	}
	resp, err := c.get(ctx, restoreSessionPath(sessionID)+"/Statistics", nil, &raw)
	if err != nil {
		return nil, resp, err
	}
	return &RestoreStatistics{Total: raw.Total, Restored: raw.Restored, Failed: raw.Failed, Skipped: raw.Skipped,
		Warnings: raw.Warnings, Errors: raw.Errors}, resp, nil
}

// Browse lists one page of a collection of an open restore session (GET, offset/limit). See
// browseCall for the path of each kind per API version.
func (c *Client) Browse(ctx context.Context, sessionID string, ref BrowseRef, opts ListOptions) (*Page[BrowseItem], *Response, error) {
	call, err := c.browseCall(sessionID, ref)
	if err != nil {
		return nil, nil, err
	}
	return c.listItems(ctx, call, opts)
}

// Search searches a collection of an open restore session. Most kinds use VBO's search POSTs,
// which only read: they follow the GET retry policy (see restore_post.go); teams, channels and
// mail folders are searched by name with their listing GET. See searchCall for the mapping.
func (c *Client) Search(ctx context.Context, sessionID string, ref BrowseRef, query string, opts ListOptions) (*Page[BrowseItem], *Response, error) {
	call, err := c.searchCall(sessionID, ref, query)
	if err != nil {
		return nil, nil, err
	}
	return c.listItems(ctx, call, opts)
}
