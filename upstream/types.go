package upstream

import "time"

// Link is one HAL link as VBO emits it: {"href": "/v6/..."}. VBO v6 hrefs are relative.
type Link struct {
	Href string `json:"href"`
}

// Links is VBO's RESTLinkHALDictionary: link name -> link.
type Links map[string]Link

// Page is VBO's paged envelope (PageOfRESTRestoreSession, PageOfRESTRestoreSessionEvent, and in
// v8 PageOfRestOrganizationComposed).
type Page[T any] struct {
	Offset  int    `json:"offset"`
	Limit   int    `json:"limit"`
	SetID   string `json:"setId,omitempty"`
	Results []T    `json:"results"`
	Links   Links  `json:"_links,omitempty"`
	// TotalCount is present in the v6/v7 schemas only and often absent even there.
	TotalCount *int `json:"totalCount,omitempty"`
}

// Last reports whether p is the final page of a listing fetched with limit asked. VBO has no
// reliable "next" marker in v6, so a page shorter than asked (or than the limit the server
// echoes, if it capped it) ends the walk; a known totalCount ends it as soon as it is reached,
// which saves the empty extra call after a full last page.
func (p *Page[T]) Last(asked int) bool {
	n := len(p.Results)
	if n == 0 {
		return true
	}
	if p.TotalCount != nil && p.Offset+n >= *p.TotalCount {
		return true
	}
	limit := asked
	if p.Limit > 0 && p.Limit < limit {
		limit = p.Limit
	}
	return n < limit
}

// OrganizationType is VBO's RestOrganizationType. Unknown values are kept verbatim.
type OrganizationType string

// Known organisation types.
const (
	OrganizationTypeOffice365  OrganizationType = "Office365"
	OrganizationTypeOnPremises OrganizationType = "OnPremises"
	OrganizationTypeHybrid     OrganizationType = "Hybrid"
)

// Organization is VBO's RestOrganizationComposed, reduced to the fields the gateway reads.
// Secret-bearing settings objects are deliberately not modelled.
type Organization struct {
	ID                 string           `json:"id"`
	Name               string           `json:"name"`
	OfficeName         string           `json:"officeName,omitempty"`
	Description        string           `json:"description,omitempty"` // v7+
	Type               OrganizationType `json:"type,omitempty"`
	Region             string           `json:"region,omitempty"`
	IsExchangeOnline   *bool            `json:"isExchangeOnline,omitempty"`
	IsSharePointOnline *bool            `json:"isSharePointOnline,omitempty"`
	IsTeamsOnline      *bool            `json:"isTeamsOnline,omitempty"`
	IsTeamsChatsOnline *bool            `json:"isTeamsChatsOnline,omitempty"`
	IsBackedup         *bool            `json:"isBackedup,omitempty"`
	FirstBackuptime    *time.Time       `json:"firstBackuptime,omitempty"`
	LastBackuptime     *time.Time       `json:"lastBackuptime,omitempty"`
	Links              Links            `json:"_links,omitempty"`
}

// RestoreSessionType is VBO's session type: Vex, Veod, Vesp, Vet. Unknown values are kept verbatim.
type RestoreSessionType string

// Known restore session types.
const (
	SessionTypeExchange   RestoreSessionType = "Vex"
	SessionTypeOneDrive   RestoreSessionType = "Veod"
	SessionTypeSharePoint RestoreSessionType = "Vesp"
	SessionTypeTeams      RestoreSessionType = "Vet"
)

// RestoreSessionState is Working or Stopped (older servers also used Starting/Stopping).
type RestoreSessionState string

// Known restore session states.
const (
	SessionStateWorking RestoreSessionState = "Working"
	SessionStateStopped RestoreSessionState = "Stopped"
)

// RestoreSessionResult is Success, Warning or Failed.
type RestoreSessionResult string

// Known restore session results.
const (
	SessionResultSuccess RestoreSessionResult = "Success"
	SessionResultWarning RestoreSessionResult = "Warning"
	SessionResultFailed  RestoreSessionResult = "Failed"
)

// RestoreSession is VBO's RESTRestoreSession. Organization is the organisation's *name*;
// CreationTime is the session start (there is no startTime field).
type RestoreSession struct {
	ID           string               `json:"id"`
	Name         string               `json:"name,omitempty"`
	Organization string               `json:"organization,omitempty"`
	Type         RestoreSessionType   `json:"type"`
	CreationTime time.Time            `json:"creationTime"`
	EndTime      *time.Time           `json:"endTime"`
	State        RestoreSessionState  `json:"state"`
	Result       RestoreSessionResult `json:"result"`
	InitiatedBy  string               `json:"initiatedBy,omitempty"`
	Details      string               `json:"details,omitempty"`
	ScopeName    string               `json:"scopeName,omitempty"`
	ClientHost   string               `json:"clientHost,omitempty"`
	Reason       string               `json:"reason,omitempty"`
	ETag         *int64               `json:"eTag,omitempty"` // v8
	Links        Links                `json:"_links,omitempty"`
}

// Finished reports whether the session has stopped; a stopped session never changes again.
func (s *RestoreSession) Finished() bool { return s.State == SessionStateStopped }

// RestoreEventType is None (start/stop markers), Save, Export, Send, Restore, View.
type RestoreEventType string

// Known event types.
const (
	EventTypeNone    RestoreEventType = "None"
	EventTypeSave    RestoreEventType = "Save"
	EventTypeExport  RestoreEventType = "Export"
	EventTypeSend    RestoreEventType = "Send"
	EventTypeRestore RestoreEventType = "Restore"
	EventTypeView    RestoreEventType = "View"
)

// RestoreEventStatus is Running, Success, Warning, Failed, Cancelled, Skipped.
type RestoreEventStatus string

// Known event statuses.
const (
	EventStatusRunning   RestoreEventStatus = "Running"
	EventStatusSuccess   RestoreEventStatus = "Success"
	EventStatusWarning   RestoreEventStatus = "Warning"
	EventStatusFailed    RestoreEventStatus = "Failed"
	EventStatusCancelled RestoreEventStatus = "Cancelled"
	EventStatusSkipped   RestoreEventStatus = "Skipped"
)

// RestoreSessionEvent is VBO's RESTRestoreSessionEvent.
type RestoreSessionEvent struct {
	ID            string             `json:"id"`
	Type          RestoreEventType   `json:"type,omitempty"`
	Status        RestoreEventStatus `json:"status"`
	StartTime     time.Time          `json:"startTime"`
	EndTime       *time.Time         `json:"endTime"`
	Duration      string             `json:"duration,omitempty"` // .NET TimeSpan text
	Title         string             `json:"title,omitempty"`
	Message       string             `json:"message"`
	Order         int                `json:"order"`
	ItemName      string             `json:"itemName,omitempty"`
	ItemType      string             `json:"itemType,omitempty"`
	ItemSizeBytes *int64             `json:"itemSizeBytes,omitempty"`
	Source        string             `json:"source,omitempty"`
	Target        string             `json:"target,omitempty"`
	Links         Links              `json:"_links,omitempty"`
}

// Token is VBO's OAuthTokenResponse.
type Token struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	UserName     string `json:"userName"`
	// Issued and Expires are kept as text: OWIN-style servers emit RFC 1123 dates here, others
	// RFC 3339. The client computes expiry from ExpiresIn and only falls back to Expires.
	Issued  string `json:".issued"`
	Expires string `json:".expires"`
}

// ExceptionInfo is VBO's RESTExceptionInfo error body.
type ExceptionInfo struct {
	Message    string `json:"message"`
	ErrorCode  string `json:"errorCode,omitempty"`  // v7+
	StackTrace string `json:"stackTrace,omitempty"` // v8
}
