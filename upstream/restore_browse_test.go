package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"
)

const emptyPage = `{"offset":0,"limit":30,"results":[]}`

// TestBrowsePathsPerVersion: every BrowseKind reaches its GET, with its casing and query, on
// both versions; offset and limit are passed through.
func TestBrowsePathsPerVersion(t *testing.T) {
	t.Parallel()
	const r = "/RestoreSessions/s1"
	tests := []struct {
		ref    BrowseRef
		v6, v8 string // path after /vbo-base/vN
		q6, q8 string // query besides offset/limit
	}{
		{BrowseRef{Kind: BrowseMailboxes}, r + "/organization/mailboxes", "", "", ""},
		{BrowseRef{Kind: BrowseMailFolders, ContainerID: "m1"}, r + "/organization/mailboxes/m1/folders", "", "", ""},
		{BrowseRef{Kind: BrowseMailFolders, ContainerID: "m1", ParentID: "f1"}, r + "/organization/mailboxes/m1/folders", "", "parentId=f1", "parentId=f1"},
		{BrowseRef{Kind: BrowseMailItems, ContainerID: "m1", ParentID: "f 1"}, r + "/organization/mailboxes/m1/items", "", "folderId=f+1", "parentId=f+1"},
		{BrowseRef{Kind: BrowseOneDrives}, r + "/Organization/OneDrives", "", "", ""},
		{BrowseRef{Kind: BrowseDriveFolders, ContainerID: "d1", ParentID: "p1"}, r + "/Organization/OneDrives/d1/Folders", "", "parentId=p1", "parentId=p1"},
		{BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, r + "/Organization/OneDrives/d1/Documents", "", "", ""},
		{BrowseRef{Kind: BrowseSites}, r + "/Organization/Sites", "", "", ""},
		{BrowseRef{Kind: BrowseSites, ParentID: "root"}, r + "/Organization/Sites", "", "parentId=root", "parentId=root"},
		{BrowseRef{Kind: BrowseSiteLibraries, ContainerID: "s9"}, r + "/Organization/Sites/s9/Libraries", "", "", ""},
		{BrowseRef{Kind: BrowseSiteLists, ContainerID: "s9"}, r + "/Organization/Sites/s9/Lists", "", "", ""},
		{BrowseRef{Kind: BrowseSiteFolders, ContainerID: "s9", ParentID: "lib"}, r + "/Organization/Sites/s9/Folders", "", "parentId=lib", "parentId=lib"},
		{BrowseRef{Kind: BrowseSiteDocuments, ContainerID: "s9", ParentID: "lib"}, r + "/Organization/Sites/s9/Documents", "", "parentId=lib", "parentId=lib"},
		{BrowseRef{Kind: BrowseSiteItems, ContainerID: "s9", ParentID: "list"}, r + "/Organization/Sites/s9/Items", "", "parentId=list", "parentId=list"},
		{BrowseRef{Kind: BrowseTeams}, r + "/organization/teams", "", "", ""},
		{BrowseRef{Kind: BrowseChannels, ContainerID: "t1"}, r + "/organization/teams/t1/channels", "", "", ""},
		{BrowseRef{Kind: BrowsePosts, ContainerID: "t1", ParentID: "c1"}, r + "/organization/teams/t1/posts", "", "channelId=c1", "channelId=c1"},
		{BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t1", ParentID: "c1", FolderID: "f1"}, r + "/organization/teams/t1/files", "", "channelId=c1&parentId=f1", "channelId=c1&parentId=f1"},
	}
	for _, tt := range tests {
		for _, v := range []string{APIv6, APIv8} {
			name := fmt.Sprintf("%s/%s/%s", v, tt.ref.Kind, tt.ref.ParentID)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := newRestoreVBO(t, replyJSON(200, emptyPage))
				_, _, err := f.client(t, v, ClientOptions{}).Browse(context.Background(), "s1", tt.ref, ListOptions{Offset: 60, Limit: 30})
				if err != nil {
					t.Fatal(err)
				}
				path, q := tt.v6, tt.q6
				if v == APIv8 {
					path, q = tt.v8, tt.q8
				}
				if path == "" {
					path = tt.v6
				}
				wantQ := "limit=30&offset=60"
				if q != "" {
					wantQ = mergeQuery(wantQ, q)
				}
				req := f.only(t)
				if req.Method != http.MethodGet || req.Path != "/vbo-base/"+v+path || req.Query != wantQ {
					t.Errorf("got %s %s?%s\nwant GET %s?%s", req.Method, req.Path, req.Query, "/vbo-base/"+v+path, wantQ)
				}
			})
		}
	}
}

// mergeQuery sorts the parameters of two encoded queries as url.Values.Encode does.
func mergeQuery(a, b string) string {
	v, _ := parseQuery(a + "&" + b)
	return v.Encode()
}

// TestSearchCallsPerVersion: every kind's search goes to its read-only POST (or listing GET)
// with the query in the body (or parameter).
func TestSearchCallsPerVersion(t *testing.T) {
	t.Parallel()
	const r = "/RestoreSessions/s1"
	body := `{"query":"budget"}`
	tests := []struct {
		ref          BrowseRef
		method, path string
		q6, q8       string
		body         string
	}{
		{BrowseRef{Kind: BrowseMailboxes}, "POST", r + "/organization/mailboxes/search", "", "", body},
		{BrowseRef{Kind: BrowseMailItems, ContainerID: "m1"}, "POST", r + "/organization/mailboxes/m1/search", "", "", body},
		{BrowseRef{Kind: BrowseMailItems, ContainerID: "m1", ParentID: "f1"}, "POST", r + "/organization/mailboxes/m1/folders/f1/search", "", "", body},
		{BrowseRef{Kind: BrowseMailFolders, ContainerID: "m1", ParentID: "f1"}, "GET", r + "/organization/mailboxes/m1/folders", "name=budget&parentId=f1", "name=budget&parentId=f1", ""},
		{BrowseRef{Kind: BrowseOneDrives}, "POST", r + "/Organization/OneDrives/search", "itemType=All", "itemType=All", body},
		{BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, "POST", r + "/Organization/OneDrives/d1/search", "itemType=Documents", "itemType=Documents", body},
		{BrowseRef{Kind: BrowseDriveFolders, ContainerID: "d1", ParentID: "p1"}, "POST", r + "/Organization/OneDrives/d1/Folders/p1/search", "itemType=Folders", "itemType=Folders", body},
		{BrowseRef{Kind: BrowseSites}, "POST", r + "/Organization/Sites/search", "itemType=All", "itemType=All", body},
		{BrowseRef{Kind: BrowseSites, ParentID: "s9"}, "POST", r + "/Organization/Sites/s9/search", "itemType=All", "itemType=All", body},
		{BrowseRef{Kind: BrowseSiteLibraries, ContainerID: "s9"}, "POST", r + "/Organization/Sites/s9/search", "itemType=All", "itemType=All", body},
		{BrowseRef{Kind: BrowseSiteDocuments, ContainerID: "s9", ParentID: "f1"}, "POST", r + "/Organization/Sites/s9/Folders/f1/search", "itemType=Items", "itemType=Items", body},
		{BrowseRef{Kind: BrowseSiteFolders, ContainerID: "s9"}, "POST", r + "/Organization/Sites/s9/search", "itemType=Folders", "itemType=Folders", body},
		{BrowseRef{Kind: BrowseTeams}, "GET", r + "/organization/teams", "displayName=budget", "displayName=budget", ""},
		{BrowseRef{Kind: BrowseChannels, ContainerID: "t1"}, "GET", r + "/organization/teams/t1/channels", "displayName=budget", "displayName=budget", ""},
		{BrowseRef{Kind: BrowsePosts, ContainerID: "t1", ParentID: "c1"}, "POST", r + "/organization/teams/t1/posts/search", "", "channelId=c1", body},
		{BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t1", ParentID: "c1"}, "POST", r + "/organization/teams/t1/files/search", "", "channelId=c1", body},
	}
	for _, tt := range tests {
		for _, v := range []string{APIv6, APIv8} {
			t.Run(fmt.Sprintf("%s/%s/%s", v, tt.ref.Kind, tt.ref.ParentID), func(t *testing.T) {
				t.Parallel()
				f := newRestoreVBO(t, replyJSON(200, emptyPage))
				_, _, err := f.client(t, v, ClientOptions{}).Search(context.Background(), "s1", tt.ref, "budget", ListOptions{Limit: 50})
				if err != nil {
					t.Fatal(err)
				}
				q := tt.q6
				if v == APIv8 {
					q = tt.q8
				}
				wantQ := "limit=50"
				if q != "" {
					wantQ = mergeQuery(wantQ, q)
				}
				req := f.only(t)
				if req.Method != tt.method || req.Path != "/vbo-base/"+v+tt.path || req.Query != wantQ {
					t.Errorf("got %s %s?%s\nwant %s %s?%s", req.Method, req.Path, req.Query, tt.method, "/vbo-base/"+v+tt.path, wantQ)
				}
				if tt.body == "" {
					if len(req.Body) != 0 {
						t.Errorf("body %q, want none", req.Body)
					}
				} else {
					sameJSON(t, req.Body, tt.body)
				}
			})
		}
	}
}

// TestSearchRetriedLikeAGet: a search POST only reads, so a 503 is retried; a browse GET too.
func TestSearchRetriedLikeAGet(t *testing.T) {
	t.Parallel()
	flaky := func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			replyJSON(503, `{"message":"busy"}`)(w, r, n)
			return
		}
		replyJSON(200, `{"offset":0,"limit":30,"results":[{"id":"i1","subject":"Budget"}]}`)(w, r, n)
	}
	ref := BrowseRef{Kind: BrowseMailItems, ContainerID: "m1"}
	for name, call := range map[string]func(c *Client) (*Page[BrowseItem], *Response, error){
		"search": func(c *Client) (*Page[BrowseItem], *Response, error) {
			return c.Search(context.Background(), "s1", ref, "budget", ListOptions{})
		},
		"browse": func(c *Client) (*Page[BrowseItem], *Response, error) {
			return c.Browse(context.Background(), "s1", ref, ListOptions{})
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newRestoreVBO(t, flaky)
			c := f.client(t, APIv8, ClientOptions{Retry: fastRetry})
			page, _, err := call(c)
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 2 || c.Stats().Retries != 1 || len(page.Results) != 1 || page.Results[0].Name != "Budget" {
				t.Fatalf("%d requests, %d retries, page %+v", len(reqs), c.Stats().Retries, page)
			}
			if name == "search" && string(reqs[0].Body) != string(reqs[1].Body) {
				t.Errorf("retry sent %q, first %q", reqs[1].Body, reqs[0].Body)
			}
			// A search failure is a plain *Error, not an action's outcome.
			f2 := newRestoreVBO(t, replyJSON(400, `{"message":"bad query"}`))
			_, _, err = call(f2.client(t, APIv8, ClientOptions{Retry: fastRetry}))
			var ae *ActionError
			if !errors.Is(err, ErrBadRequest) || errors.As(err, &ae) {
				t.Errorf("err %v", err)
			}
		})
	}
}

func TestBrowseRefValidation(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, replyJSON(200, emptyPage))
	c6, c8 := f.client(t, APIv6, ClientOptions{}), f.client(t, APIv8, ClientOptions{})
	bad := []struct {
		c       *Client
		session string
		ref     BrowseRef
	}{
		{c6, "", BrowseRef{Kind: BrowseMailboxes}},
		{c6, "..", BrowseRef{Kind: BrowseMailboxes}},
		{c6, "s1", BrowseRef{Kind: "calendars"}},
		{c6, "s1", BrowseRef{Kind: BrowseMailFolders}},                                // no container
		{c6, "s1", BrowseRef{Kind: BrowseMailboxes, ContainerID: "m1"}},               // container on a top level
		{c6, "s1", BrowseRef{Kind: BrowseSiteLists, ContainerID: "s", ParentID: "x"}}, // lists take no parent
		{c6, "s1", BrowseRef{Kind: BrowseMailItems, ContainerID: ".."}},
		{c6, "s1", BrowseRef{Kind: BrowseMailItems, ContainerID: "m", FolderID: "f"}},
		{c6, "s1", BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t", FolderID: "f"}}, // folder without channel
		{c8, "s1", BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t"}},                // v8: files per channel
	}
	for i, b := range bad {
		if _, _, err := b.c.Browse(context.Background(), b.session, b.ref, ListOptions{}); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("%d browse %+v: err %v", i, b.ref, err)
		}
		if _, _, err := b.c.Search(context.Background(), b.session, b.ref, "x", ListOptions{}); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("%d search %+v: err %v", i, b.ref, err)
		}
	}
	if _, _, err := c6.Search(context.Background(), "s1", BrowseRef{Kind: BrowseMailboxes}, "", ListOptions{}); !errors.Is(err, ErrInvalidRef) {
		t.Errorf("empty query: %v", err)
	}
	// v6 lists a team's files without a channel.
	if _, _, err := c6.Browse(context.Background(), "s1", BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t"}, ListOptions{}); err != nil {
		t.Errorf("v6 team files: %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests sent, want only the valid one", n)
	}
}

func ptr[T any](v T) *T { return &v }

// TestBrowseDecodesEachWorkload maps each workload's item shape (as in the OpenAPI documents)
// to BrowseItem.
func TestBrowseDecodesEachWorkload(t *testing.T) {
	t.Parallel()
	ts := func(s string) *time.Time { v, _ := time.Parse(time.RFC3339, s); return &v }
	tests := []struct {
		ref  BrowseRef
		item string
		want BrowseItem
	}{
		{BrowseRef{Kind: BrowseMailboxes}, `{"id":"m1","name":"Ann Lee","email":"ann@contoso.com","isArchive":false,"isPublic":false}`,
			BrowseItem{ID: "m1", Name: "Ann Lee", Type: "Mailbox", Email: "ann@contoso.com", HasChildren: true}},
		{BrowseRef{Kind: BrowseMailFolders, ContainerID: "m1"}, `{"id":"f1","name":"Inbox","type":"None","category":"Inbox","mailboxId":"m1"}`,
			BrowseItem{ID: "f1", Name: "Inbox", Type: "Folder", HasChildren: true}},
		{BrowseRef{Kind: BrowseMailItems, ContainerID: "m1"}, `{"id":"i1","subject":"Q3 budget","itemClass":"IPM.Note","from":"bob@contoso.com","received":"2026-11-20T08:00:00Z","sent":"2026-11-20T07:59:00Z"}`,
			BrowseItem{ID: "i1", Name: "Q3 budget", Type: "IPM.Note", Modified: ts("2026-11-20T08:00:00Z")}},
		{BrowseRef{Kind: BrowseOneDrives}, `{"id":"d1","name":"Ann Lee","url":"https://contoso-my.sharepoint.com/personal/ann"}`,
			BrowseItem{ID: "d1", Name: "Ann Lee", Type: "OneDrive", URL: "https://contoso-my.sharepoint.com/personal/ann", HasChildren: true}},
		{BrowseRef{Kind: BrowseDriveFolders, ContainerID: "d1"}, `{"id":"df","name":"Reports","createdBy":"ann","creationTime":"2026-01-01T00:00:00Z","modifiedBy":"ann","modificationTime":"2026-02-01T00:00:00Z"}`,
			BrowseItem{ID: "df", Name: "Reports", Type: "Folder", Modified: ts("2026-02-01T00:00:00Z"), HasChildren: true}},
		{BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, `{"id":"dd","name":"plan.docx","sizeBytes":12345,"modificationTime":"2026-02-02T00:00:00Z","isFolder":false}`,
			BrowseItem{ID: "dd", Name: "plan.docx", Type: "Document", Size: ptr(int64(12345)), Modified: ts("2026-02-02T00:00:00Z")}},
		{BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, `{"id":"dx","name":"Sub","sizeBytes":0,"isFolder":true}`,
			BrowseItem{ID: "dx", Name: "Sub", Type: "Folder", HasChildren: true}},
		{BrowseRef{Kind: BrowseSites}, `{"id":"s1","name":"Finance","url":"https://contoso.sharepoint.com/sites/finance"}`,
			BrowseItem{ID: "s1", Name: "Finance", Type: "Site", URL: "https://contoso.sharepoint.com/sites/finance", HasChildren: true}},
		{BrowseRef{Kind: BrowseSiteLibraries, ContainerID: "s1"}, `{"id":"l1","name":"Documents","url":"https://x/Shared Documents","creationTime":"2026-01-01T00:00:00Z"}`,
			BrowseItem{ID: "l1", Name: "Documents", Type: "Library", URL: "https://x/Shared Documents", HasChildren: true}},
		{BrowseRef{Kind: BrowseSiteLists, ContainerID: "s1"}, `{"id":"li","name":"Tasks","url":"https://x/Lists/Tasks"}`,
			BrowseItem{ID: "li", Name: "Tasks", Type: "List", URL: "https://x/Lists/Tasks", HasChildren: true}},
		{BrowseRef{Kind: BrowseSiteFolders, ContainerID: "s1"}, `{"id":"sf","name":"2026","type":"LibraryFolder","modificationTime":"2026-03-01T00:00:00Z"}`,
			BrowseItem{ID: "sf", Name: "2026", Type: "Folder", Modified: ts("2026-03-01T00:00:00Z"), HasChildren: true}},
		{BrowseRef{Kind: BrowseSiteDocuments, ContainerID: "s1"}, `{"id":"sd","name":"q3.xlsx","sizeBytes":99,"modificationTime":"2026-03-02T00:00:00Z"}`,
			BrowseItem{ID: "sd", Name: "q3.xlsx", Type: "Document", Size: ptr(int64(99)), Modified: ts("2026-03-02T00:00:00Z")}},
		{BrowseRef{Kind: BrowseSiteItems, ContainerID: "s1"}, `{"id":"si","name":"1_.000","title":"Call supplier","modificationTime":"2026-03-03T00:00:00Z"}`,
			BrowseItem{ID: "si", Name: "Call supplier", Type: "Item", Modified: ts("2026-03-03T00:00:00Z")}},
		{BrowseRef{Kind: BrowseTeams}, `{"id":"t1","displayName":"Sales","groupEmail":"sales@contoso.com","privacy":"Private"}`,
			BrowseItem{ID: "t1", Name: "Sales", Type: "Team", Email: "sales@contoso.com", HasChildren: true}},
		{BrowseRef{Kind: BrowseChannels, ContainerID: "t1"}, `{"id":"19:abc@thread.skype","displayName":"General","type":"Standard"}`,
			BrowseItem{ID: "19:abc@thread.skype", Name: "General", Type: "Channel", HasChildren: true}},
		{BrowseRef{Kind: BrowsePosts, ContainerID: "t1"}, `{"postId":1700000000123,"subject":"Kick-off","author":"Ann","createdTime":"2026-04-01T00:00:00Z","lastModifiedTime":"2026-04-02T00:00:00Z"}`,
			BrowseItem{ID: "1700000000123", Name: "Kick-off", Type: "Post", Modified: ts("2026-04-02T00:00:00Z")}},
		{BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t1", ParentID: "c1"}, `{"id":"8d1f","name":"deck.pptx","sizeBytes":4096,"modified":"2026-04-03T00:00:00Z","fileType":"File","channelId":"c1"}`,
			BrowseItem{ID: "8d1f", Name: "deck.pptx", Type: "File", Size: ptr(int64(4096)), Modified: ts("2026-04-03T00:00:00Z")}},
		{BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t1", ParentID: "c1"}, `{"id":"8d20","name":"Shared","sizeBytes":0,"fileType":"Folder","channelId":"c1"}`,
			BrowseItem{ID: "8d20", Name: "Shared", Type: "Folder", HasChildren: true}},
	}
	for _, tt := range tests {
		t.Run(string(tt.ref.Kind)+"/"+tt.want.ID, func(t *testing.T) {
			t.Parallel()
			f := newRestoreVBO(t, replyJSON(200, `{"offset":5,"limit":1,"setId":"set-1","totalCount":9,"results":[`+tt.item+`]}`))
			page, _, err := f.client(t, APIv8, ClientOptions{}).Browse(context.Background(), "s1", tt.ref, ListOptions{Offset: 5, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if page.Offset != 5 || page.Limit != 1 || page.SetID != "set-1" || page.TotalCount == nil || *page.TotalCount != 9 || len(page.Results) != 1 {
				t.Fatalf("page %+v", page)
			}
			if got := page.Results[0]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestBrowsePageIsBounded: a page holding more items than asked for fails (a hostile server).
func TestBrowsePageIsBounded(t *testing.T) {
	t.Parallel()
	items := "{}"
	for range 2 + pageMargin {
		items += `,{}`
	}
	f := newRestoreVBO(t, replyJSON(200, `{"offset":0,"limit":2,"results":[`+items+`]}`))
	_, _, err := f.client(t, APIv6, ClientOptions{}).Browse(context.Background(), "s1", BrowseRef{Kind: BrowseMailboxes}, ListOptions{Limit: 2})
	if !errors.Is(err, ErrTooManyItems) {
		t.Fatalf("err %v, want ErrTooManyItems", err)
	}
}
