package resolvers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The restore front door (issue 24): restore sessions started, browsed and stopped through the
// gateway, each step recorded against the person before VBO is called. The resolvers check the
// caller (role, scope) and map; RestoreFrontDoor (cmd/internal/restore/frontdoor, wired by app)
// records, limits and calls VBO.

// RestoreFrontDoor starts, browses and stops restore sessions through the gateway and reads
// its attribution log. Implementations answer ErrNotFound (wrapped) for an unknown gateway
// session, *model.InputError for input they refuse, *RoleError for a role that may not act,
// *LimitError past a per-person limit, and VBO's errors (*upstream.Error) as they come.
type RestoreFrontDoor interface {
	// Start opens a restore session (VBO's Explore) on an organisation the resolvers checked.
	Start(ctx context.Context, a RestoreActor, req RestoreStart) (*upstream.RestoreSession, *GatewaySession, error)
	// Stop stops an open gateway session (VBO's Stop).
	Stop(ctx context.Context, a RestoreActor, s *GatewaySession) error
	// Browse lists one page of a collection of an open gateway session (search "" browses;
	// otherwise VBO's search). limit is what VBO is asked for.
	Browse(ctx context.Context, a RestoreActor, s *GatewaySession, ref upstream.BrowseRef, search string, offset, limit int) ([]upstream.BrowseItem, error)
	// Session reads a gateway session by the gateway's id.
	Session(ctx context.Context, id string) (*GatewaySession, error)
	// SessionsByVBO reads the gateway sessions of VBO sessions (server, VBO id); a missing key
	// was not started through the gateway.
	SessionsByVBO(ctx context.Context, keys [][2]string) (map[[2]string]*GatewaySession, error)
	// Actions pages a gateway session's steps, oldest first, after position after.
	Actions(ctx context.Context, gatewaySessionID string, after int64, limit int) ([]*model.RestoreAction, error)
	// Verify checks tenant's chain ("" = the provider admins').
	Verify(ctx context.Context, tenant string) (*model.RestoreActionLogVerification, error)
}

// RestoreActor is who takes a step, as the edge authenticated them.
type RestoreActor struct {
	Person      string // the principal's person (JWT sub; an API key's auth.apiKeys[].person, else apikey:<name>)
	DisplayName string
	Tenant      string // "" for provider admins
	Role        auth.Role
	ClientAddr  string
	UserAgent   string
	RequestID   string
	// Credential is how the caller authenticated (the destructive actions' step-up).
	Credential auth.Credential
}

// RestoreStart is a checked startRestoreSession.
type RestoreStart struct {
	Server         string
	OrganizationID string
	Type           model.RestoreSessionType
	PointInTime    *time.Time
	ShowDeleted    bool
	Reason         string
}

// GatewaySession is a restore session started through the gateway, as its log knows it.
type GatewaySession struct {
	ID             string // the gateway's id
	Server         string
	OrganizationID string
	Type           model.RestoreSessionType
	VBOSessionID   string // "" until VBO answered the start
	Person         string
	DisplayName    string
	Tenant         string // "" for a provider admin's
	Reason         string
	Open           bool
	LastActivity   time.Time
}

// LimitError refuses a step past a per-person limit (restore.maxOpenSessionsPerPerson,
// restore.stepsPerMinute): RATE_LIMITED, with a message saying which.
type LimitError struct {
	Msg        string
	RetryAfter time.Duration // 0 when waiting does not help (close a session first)
}

func (e *LimitError) Error() string { return e.Msg }

// ErrRestoreOff: the restore front door is off (restore.enabled false): NOT_CONFIGURED.
var ErrRestoreOff = errors.New("the restore front door is off (restore.enabled in the gateway's configuration)")

// MaxRestoreReason bounds startRestoreSession's reason, in characters.
const MaxRestoreReason = 500

// maxRestoreSearch bounds a browse search text, in characters.
const maxRestoreSearch = 256

// CheckRestoreReason validates a reason: 1 to MaxRestoreReason characters of text, not blank,
// no control characters other than newline and tab (C0, DEL and C1, where 8-bit terminal
// escapes and NEL live) and no bidirectional controls (which make a reason read otherwise than
// it was written, to the auditors it is shown to).
func CheckRestoreReason(reason string) error {
	n := utf8.RuneCountInString(reason)
	switch {
	case !utf8.ValidString(reason):
		return &model.InputError{Msg: "must be UTF-8 text", Field: "input.reason"}
	case strings.TrimSpace(reason) == "":
		return &model.InputError{Msg: "is required: say why (1 to 500 characters); it is recorded and shown to the tenant's auditors", Field: "input.reason"}
	case n > MaxRestoreReason:
		return &model.InputError{Msg: fmt.Sprintf("is %d characters; at most %d", n, MaxRestoreReason), Field: "input.reason"}
	}
	for _, r := range reason {
		if r != '\n' && r != '\t' && isHostileRune(r) {
			return &model.InputError{Msg: "must not contain control characters (other than newline and tab)", Field: "input.reason"}
		}
	}
	return nil
}

// isHostileRune reports a control character (C0, DEL, C1) or a bidirectional control.
func isHostileRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// restoreActors are the roles that may act through the front door.
var restoreActors = []auth.Role{auth.RoleRestoreOperator, auth.RoleTenantAdmin, auth.RoleProviderAdmin}

// CheckRestoreRole refuses a role that may not act through the front door (a TENANT_AUDITOR)
// with a RoleError naming the roles that may.
func CheckRestoreRole(role auth.Role, action string) error {
	for _, r := range restoreActors {
		if role == r {
			return nil
		}
	}
	return &RoleError{Action: action, Have: role, Need: restoreActors}
}

// canActOnRestore reports whether p may act on gateway session s: its role may act, and s
// is its tenant's, on an organisation in its scope (a provider admin: any). Anything else reads
// as missing.
func canActOnRestore(p *auth.Principal, s *GatewaySession) bool {
	if s == nil || CheckRestoreRole(p.Role, "") != nil {
		return false
	}
	if p.IsAdmin() {
		return true
	}
	return s.Tenant != "" && s.Tenant == p.Tenant && p.CanSeeOrg(s.Server, s.OrganizationID)
}

// restoreActor is the caller as the front door records it.
func restoreActor(ctx context.Context, p *auth.Principal) RestoreActor {
	c := auth.ClientFrom(ctx)
	return RestoreActor{Person: p.Person(), DisplayName: p.DisplayName, Tenant: p.Tenant, Role: p.Role,
		ClientAddr: c.Addr, UserAgent: c.UserAgent, RequestID: requestid.From(ctx), Credential: p.Credential()}
}

// restorePrincipal is the caller of a front door field: authenticated, the front door on.
func (r *Resolver) restorePrincipal(ctx context.Context) (*auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if r.Restore == nil {
		return nil, ErrRestoreOff
	}
	return p, nil
}

// actionableSession finds the gateway session of a RestoreSession global id that p may act
// on: one of another tenant, one not started through the gateway and a missing one all read
// as not found (one store read each way).
func (r *Resolver) actionableSession(ctx context.Context, p *auth.Principal, id string) (*GatewaySession, gid.ID, error) {
	sid, err := gid.ParseKind(id, gid.KindRestoreSession)
	if err != nil {
		return nil, sid, err
	}
	got, err := r.Restore.SessionsByVBO(ctx, [][2]string{{sid.Server, sid.Upstream}})
	if err != nil {
		return nil, sid, err
	}
	s := got[[2]string{sid.Server, sid.Upstream}]
	if !canActOnRestore(p, s) {
		return nil, sid, ErrNotFound
	}
	return s, sid, nil
}

// Attribution loader: one SessionsByVBO per request batch, keyed by (server, VBO id).

type attributionLoaderKey struct{}

func (r *Resolver) gatewaySessionOf(ctx context.Context, server, vboID string) (*GatewaySession, error) {
	l := loaders.PerRequest(ctx, attributionLoaderKey{}, func() *dataloader.Loader[[2]string, *GatewaySession] {
		return dataloader.NewBatchedLoader(func(ctx context.Context, keys [][2]string) []*dataloader.Result[*GatewaySession] {
			out := make([]*dataloader.Result[*GatewaySession], len(keys))
			got, err := r.Restore.SessionsByVBO(ctx, keys)
			for i, k := range keys {
				out[i] = &dataloader.Result[*GatewaySession]{Data: got[k], Error: err}
			}
			return out
		}, dataloader.WithWait[[2]string, *GatewaySession](time.Millisecond))
	})
	return l.Load(ctx, [2]string{server, vboID})()
}

// Browsing: RestoreBrowser's roots and RestoreItem's children by kind.

// browseRoots maps each RestoreBrowser root to its session type and collection.
var browseRoots = map[model.RestoreItemKind]struct {
	session model.RestoreSessionType
	kind    upstream.BrowseKind
}{
	model.RestoreItemKindMailbox:  {model.RestoreSessionTypeExchange, upstream.BrowseMailboxes},
	model.RestoreItemKindOnedrive: {model.RestoreSessionTypeOnedrive, upstream.BrowseOneDrives},
	model.RestoreItemKindSite:     {model.RestoreSessionTypeSharepoint, upstream.BrowseSites},
	model.RestoreItemKindTeam:     {model.RestoreSessionTypeTeams, upstream.BrowseTeams},
}

// childCollections maps (parent kind, child kind) to the collection that lists the children
// and whether the parent is the container (else the parent is a folder inside it).
var childCollections = map[[2]model.RestoreItemKind]struct {
	kind      upstream.BrowseKind
	container bool
}{
	{model.RestoreItemKindMailbox, model.RestoreItemKindMailFolder}:        {upstream.BrowseMailFolders, true},
	{model.RestoreItemKindMailFolder, model.RestoreItemKindMailFolder}:     {upstream.BrowseMailFolders, false},
	{model.RestoreItemKindMailFolder, model.RestoreItemKindMailItem}:       {upstream.BrowseMailItems, false},
	{model.RestoreItemKindOnedrive, model.RestoreItemKindDriveFolder}:      {upstream.BrowseDriveFolders, true},
	{model.RestoreItemKindOnedrive, model.RestoreItemKindDriveDocument}:    {upstream.BrowseDriveDocuments, true},
	{model.RestoreItemKindDriveFolder, model.RestoreItemKindDriveFolder}:   {upstream.BrowseDriveFolders, false},
	{model.RestoreItemKindDriveFolder, model.RestoreItemKindDriveDocument}: {upstream.BrowseDriveDocuments, false},
	{model.RestoreItemKindSite, model.RestoreItemKindSiteLibrary}:          {upstream.BrowseSiteLibraries, true},
	{model.RestoreItemKindSite, model.RestoreItemKindSiteList}:             {upstream.BrowseSiteLists, true},
	{model.RestoreItemKindSiteLibrary, model.RestoreItemKindSiteFolder}:    {upstream.BrowseSiteFolders, false},
	{model.RestoreItemKindSiteLibrary, model.RestoreItemKindSiteDocument}:  {upstream.BrowseSiteDocuments, false},
	{model.RestoreItemKindSiteFolder, model.RestoreItemKindSiteFolder}:     {upstream.BrowseSiteFolders, false},
	{model.RestoreItemKindSiteFolder, model.RestoreItemKindSiteDocument}:   {upstream.BrowseSiteDocuments, false},
	{model.RestoreItemKindSiteList, model.RestoreItemKindSiteFolder}:       {upstream.BrowseSiteFolders, false},
	{model.RestoreItemKindSiteList, model.RestoreItemKindSiteItem}:         {upstream.BrowseSiteItems, false},
	{model.RestoreItemKindTeam, model.RestoreItemKindChannel}:              {upstream.BrowseChannels, true},
	{model.RestoreItemKindChannel, model.RestoreItemKindPost}:              {upstream.BrowsePosts, false},
	{model.RestoreItemKindChannel, model.RestoreItemKindTeamFile}:          {upstream.BrowseTeamFiles, false},
}

// childKinds lists the kinds of children kind has (for messages).
func childKinds(kind model.RestoreItemKind) []string {
	var out []string
	for _, k := range model.AllRestoreItemKind {
		if _, ok := childCollections[[2]model.RestoreItemKind{kind, k}]; ok {
			out = append(out, string(k))
		}
	}
	return out
}

// childRef is the collection listing item's children of kind (BAD_USER_INPUT for a kind it
// does not have).
func childRef(item *model.RestoreItem, kind model.RestoreItemKind) (upstream.BrowseRef, error) {
	c, ok := childCollections[[2]model.RestoreItemKind{item.Kind, kind}]
	if !ok {
		have := childKinds(item.Kind)
		msg := fmt.Sprintf("a %s has no children of kind %s", item.Kind, kind)
		if len(have) > 0 {
			msg += " (it has " + strings.Join(have, ", ") + ")"
		} else {
			msg += " (it has none)"
		}
		return upstream.BrowseRef{}, &model.InputError{Msg: msg}
	}
	if c.container {
		return upstream.BrowseRef{Kind: c.kind, ContainerID: item.Upstream}, nil
	}
	return upstream.BrowseRef{Kind: c.kind, ContainerID: item.Ref.ContainerID, ParentID: item.Upstream}, nil
}

// itemKinds is the kind of the entries a collection lists.
var itemKinds = map[upstream.BrowseKind]model.RestoreItemKind{
	upstream.BrowseMailboxes: model.RestoreItemKindMailbox, upstream.BrowseMailFolders: model.RestoreItemKindMailFolder,
	upstream.BrowseMailItems: model.RestoreItemKindMailItem, upstream.BrowseOneDrives: model.RestoreItemKindOnedrive,
	upstream.BrowseDriveFolders: model.RestoreItemKindDriveFolder, upstream.BrowseDriveDocuments: model.RestoreItemKindDriveDocument,
	upstream.BrowseSites: model.RestoreItemKindSite, upstream.BrowseSiteLibraries: model.RestoreItemKindSiteLibrary,
	upstream.BrowseSiteLists: model.RestoreItemKindSiteList, upstream.BrowseSiteFolders: model.RestoreItemKindSiteFolder,
	upstream.BrowseSiteDocuments: model.RestoreItemKindSiteDocument, upstream.BrowseSiteItems: model.RestoreItemKindSiteItem,
	upstream.BrowseTeams: model.RestoreItemKindTeam, upstream.BrowseChannels: model.RestoreItemKindChannel,
	upstream.BrowsePosts: model.RestoreItemKindPost, upstream.BrowseTeamFiles: model.RestoreItemKindTeamFile,
}

// Sealed browse cursors and item ids (gid.Cursors.EncodeKeyset): the client can neither read
// nor forge them, and each names the gateway session (and, for a cursor, the list) it belongs
// to.
const (
	browseCursorKind = "rb"
	restoreItemKind  = "ri"
	actionCursorKind = "ra"
	// maxBrowseOffset bounds an offset a cursor may carry.
	maxBrowseOffset = 1 << 30
)

// browseList names one list of one gateway session: what a browse cursor is bound to.
type browseList struct {
	session string
	ref     upstream.BrowseRef
	search  string
}

func (b browseList) values() url.Values {
	return url.Values{"g": {b.session}, "k": {string(b.ref.Kind)}, "c": {b.ref.ContainerID}, "p": {b.ref.ParentID}, "q": {b.search}}
}

// encodeBrowseCursor seals the position after offset entries of list b.
func encodeBrowseCursor(c *gid.Cursors, b browseList, offset int) string {
	v := b.values()
	v.Set("o", strconv.Itoa(offset))
	return c.EncodeKeyset(browseCursorKind, v.Encode())
}

// decodeBrowseCursor opens a browse cursor of list b ("" or nil: the start). A cursor that is
// not this gateway's is invalid; one of another list (or session) is BAD_USER_INPUT.
func decodeBrowseCursor(c *gid.Cursors, b browseList, after *string) (int, error) {
	if after == nil || *after == "" {
		return 0, nil
	}
	text, err := c.DecodeKeyset(browseCursorKind, *after)
	if err != nil {
		return 0, err
	}
	v, err := url.ParseQuery(text)
	if err != nil {
		return 0, fmt.Errorf("%w: browse cursor", gid.ErrInvalid)
	}
	want := b.values()
	for k := range want {
		if v.Get(k) != want.Get(k) {
			return 0, &model.InputError{Msg: "is a cursor of another list (or restore session): start this list from its first page", Field: "after"}
		}
	}
	n, err := strconv.Atoi(v.Get("o"))
	if err != nil || n < 0 || n > maxBrowseOffset {
		return 0, fmt.Errorf("%w: browse cursor offset", gid.ErrInvalid)
	}
	return n, nil
}

// RestoreItemRef is what a RestoreItem's id carries: the gateway session it was browsed in,
// its kind, the collection it sits in and its VBO id (the next issue's item actions act on it).
type RestoreItemRef struct {
	GatewaySessionID string
	Kind             model.RestoreItemKind
	Ref              upstream.BrowseRef
	Upstream         string
	// Name is the item's name as browsed (at most maxItemName bytes): the item actions record
	// it and join VBO's item events by it.
	Name string
}

// maxItemName bounds the name an item id carries.
const maxItemName = 256

// EncodeRestoreItemID seals an item's id.
func EncodeRestoreItemID(c *gid.Cursors, it RestoreItemRef) string {
	v := url.Values{"g": {it.GatewaySessionID}, "t": {string(it.Kind)}, "k": {string(it.Ref.Kind)},
		"c": {it.Ref.ContainerID}, "p": {it.Ref.ParentID}, "u": {it.Upstream}}
	if it.Name != "" {
		v.Set("n", truncateUTF8(it.Name, maxItemName))
	}
	return c.EncodeKeyset(restoreItemKind, v.Encode())
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// DecodeRestoreItemID opens an item id and checks that it belongs to gateway session
// sessionID: an id of another session reads as not found; one that is not this gateway's is
// invalid (BAD_USER_INPUT).
func DecodeRestoreItemID(c *gid.Cursors, s, sessionID string) (RestoreItemRef, error) {
	text, err := c.DecodeKeyset(restoreItemKind, s)
	if err != nil {
		return RestoreItemRef{}, err
	}
	if text == "" {
		return RestoreItemRef{}, fmt.Errorf("%w: empty item id", gid.ErrInvalid)
	}
	v, err := url.ParseQuery(text)
	if err != nil {
		return RestoreItemRef{}, fmt.Errorf("%w: item id", gid.ErrInvalid)
	}
	it := RestoreItemRef{GatewaySessionID: v.Get("g"), Kind: model.RestoreItemKind(v.Get("t")),
		Ref:      upstream.BrowseRef{Kind: upstream.BrowseKind(v.Get("k")), ContainerID: v.Get("c"), ParentID: v.Get("p")},
		Upstream: v.Get("u"), Name: v.Get("n")}
	if !it.Kind.IsValid() || it.Upstream == "" {
		return RestoreItemRef{}, fmt.Errorf("%w: item id", gid.ErrInvalid)
	}
	if it.GatewaySessionID != sessionID {
		return RestoreItemRef{}, ErrNotFound
	}
	return it, nil
}

// checkSearch validates a browse search text (nil or "": none).
func checkSearch(search *string) (string, error) {
	if search == nil {
		return "", nil
	}
	s := strings.TrimSpace(*search)
	switch {
	case !utf8.ValidString(s):
		return "", &model.InputError{Msg: "must be UTF-8 text", Field: "search"}
	case utf8.RuneCountInString(s) > maxRestoreSearch:
		return "", &model.InputError{Msg: fmt.Sprintf("is at most %d characters", maxRestoreSearch), Field: "search"}
	case strings.ContainsFunc(s, isHostileRune):
		return "", &model.InputError{Msg: "must not contain control characters", Field: "search"}
	}
	return s, nil
}

// browsePage lists one page of list ref of the browser's session for the caller and maps it
// to a connection: VBO is asked for first+1 entries (the one more says whether a page
// follows).
func (r *Resolver) browsePage(ctx context.Context, b *model.RestoreBrowser, ref upstream.BrowseRef, first *int, after, search *string) (*model.RestoreItemConnection, error) {
	p, err := r.restorePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	q, err := checkSearch(search)
	if err != nil {
		return nil, err
	}
	list := browseList{session: b.GatewaySessionID, ref: ref, search: q}
	offset, err := decodeBrowseCursor(r.Cursors, list, after)
	if err != nil {
		return nil, err
	}
	s, err := r.Restore.Session(ctx, b.GatewaySessionID)
	if err != nil {
		return nil, notFoundIfMissing(err)
	}
	if !canActOnRestore(p, s) || !s.Open {
		return nil, ErrNotFound
	}
	conn := &model.RestoreItemConnection{Edges: []*model.RestoreItemEdge{}, PageInfo: &model.PageInfo{HasPreviousPage: offset > 0}}
	if size == 0 {
		return conn, nil
	}
	items, err := r.Restore.Browse(ctx, restoreActor(ctx, p), s, ref, q, offset, size+1)
	if err != nil {
		if errors.Is(err, upstream.ErrUnsupported) {
			return nil, &model.InputError{Msg: "VBO offers no search of this list on this server's API version; browse it without search"}
		}
		return nil, err
	}
	if len(items) > size {
		items, conn.PageInfo.HasNextPage = items[:size], true
	}
	kind := itemKinds[ref.Kind]
	for i, it := range items {
		node := &model.RestoreItem{Kind: kind, Name: it.Name, HasChildren: it.HasChildren, SizeBytes: it.Size, Modified: it.Modified,
			ItemType: optional(it.Type), Email: optional(it.Email), URL: optional(it.URL), Browser: b, Ref: ref, Upstream: it.ID}
		node.ID = EncodeRestoreItemID(r.Cursors, RestoreItemRef{GatewaySessionID: b.GatewaySessionID, Kind: kind, Ref: ref, Upstream: it.ID, Name: it.Name})
		conn.Edges = append(conn.Edges, &model.RestoreItemEdge{Cursor: encodeBrowseCursor(r.Cursors, list, offset+i+1), Node: node})
	}
	if n := len(conn.Edges); n > 0 {
		start, end := conn.Edges[0].Cursor, conn.Edges[n-1].Cursor
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	return conn, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// notFoundIfMissing maps a front door's not-found (any error wrapping ErrNotFound) to the
// one answer.
func notFoundIfMissing(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// encodeActionCursor seals the position of a gateway session's step.
func encodeActionCursor(c *gid.Cursors, sessionID string, position int64) string {
	return c.EncodeKeyset(actionCursorKind, url.Values{"g": {sessionID}, "n": {strconv.FormatInt(position, 10)}}.Encode())
}

// decodeActionCursor opens an actions cursor of gateway session sessionID (nil: the start).
func decodeActionCursor(c *gid.Cursors, sessionID string, after *string) (int64, error) {
	if after == nil || *after == "" {
		return 0, nil
	}
	text, err := c.DecodeKeyset(actionCursorKind, *after)
	if err != nil {
		return 0, err
	}
	v, err := url.ParseQuery(text)
	if err != nil {
		return 0, fmt.Errorf("%w: actions cursor", gid.ErrInvalid)
	}
	if v.Get("g") != sessionID {
		return 0, &model.InputError{Msg: "is a cursor of another restore session's actions", Field: "after"}
	}
	n, err := strconv.ParseInt(v.Get("n"), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: actions cursor", gid.ErrInvalid)
	}
	return n, nil
}

// browseRoot lists one of RestoreBrowser's roots (BAD_USER_INPUT on a session of another type).
func (r *Resolver) browseRoot(ctx context.Context, b *model.RestoreBrowser, kind model.RestoreItemKind, first *int, after, search *string) (*model.RestoreItemConnection, error) {
	root := browseRoots[kind]
	if b.Type != root.session {
		return nil, &model.InputError{Msg: fmt.Sprintf("this is a %s session: its browser lists %s, not %s", b.Type, rootName(b.Type), rootName(root.session))}
	}
	return r.browsePage(ctx, b, upstream.BrowseRef{Kind: root.kind}, first, after, search)
}

// rootName is the RestoreBrowser field of a session type.
func rootName(t model.RestoreSessionType) string {
	switch t {
	case model.RestoreSessionTypeExchange:
		return "mailboxes"
	case model.RestoreSessionTypeOnedrive:
		return "oneDrives"
	case model.RestoreSessionTypeSharepoint:
		return "sites"
	case model.RestoreSessionTypeTeams:
		return "teams"
	}
	return "nothing"
}
