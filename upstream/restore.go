package upstream

import (
	"context"
	"errors"
	"time"
)

// This file is the contract of the restore front door (issue 24): explore, stop, statistics,
// browse and search on an open restore session. Explore and Stop are POSTs that change VBO's
// state: they are never retried. The search POSTs only read and follow the GET retry policy.

// errRestoreTODO marks a method whose wire code has not landed yet.
var errRestoreTODO = errors.New("upstream: not implemented yet")

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

// Explore opens a restore session on an organisation (POST Organizations/{id}/Explore; v6 200,
// v8 201). Never retried: a lost answer leaves a session the caller must find or let VBO reap.
func (c *Client) Explore(ctx context.Context, organizationID string, opts ExploreOptions) (*RestoreSession, *Response, error) {
	return nil, nil, errRestoreTODO
}

// StopRestoreSession stops an open restore session (POST {R}/Stop; v6 200, v8 204).
func (c *Client) StopRestoreSession(ctx context.Context, sessionID string) (*Response, error) {
	return nil, errRestoreTODO
}

// RestoreSessionStatistics reads a session's item counts (v8 only; v6 answers ErrUnsupported).
func (c *Client) RestoreSessionStatistics(ctx context.Context, sessionID string) (*RestoreStatistics, *Response, error) {
	return nil, nil, errRestoreTODO
}

// Browse lists one page of a collection of an open restore session (GET, offset/limit).
func (c *Client) Browse(ctx context.Context, sessionID string, ref BrowseRef, opts ListOptions) (*Page[BrowseItem], *Response, error) {
	return nil, nil, errRestoreTODO
}

// Search searches a collection of an open restore session (the read-only search POSTs).
func (c *Client) Search(ctx context.Context, sessionID string, ref BrowseRef, query string, opts ListOptions) (*Page[BrowseItem], *Response, error) {
	return nil, nil, errRestoreTODO
}
