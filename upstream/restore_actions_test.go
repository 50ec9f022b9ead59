package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

var mailItems = ActionItems{Ref: BrowseRef{Kind: BrowseMailItems, ContainerID: "m1", ParentID: "f1"}, IDs: []string{"i1", "i2"}}

// TestSaveItemsStreams: the download is handed to the caller before VBO has sent it all (the
// server waits for the client to read the first half before sending the second).
func TestSaveItemsStreams(t *testing.T) {
	t.Parallel()
	for _, v := range []string{APIv6, APIv8} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			firstRead := make(chan struct{})
			f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("Content-Disposition", `attachment; filename="Q3 budget.msg"`)
				w.Header().Set("Content-Length", "10")
				w.Write([]byte("hello"))
				w.(http.Flusher).Flush()
				select {
				case <-firstRead:
				case <-time.After(5 * time.Second):
					return // the client buffered: the test fails below
				}
				w.Write([]byte("world"))
			})
			c := f.client(t, v, ClientOptions{Timeouts: Timeouts{Attempt: 5 * time.Second, Idle: 5 * time.Second}})
			d, err := c.SaveItems(context.Background(), "s1", mailItems)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Body.Close()
			if d.ContentType != "application/octet-stream" || d.Length != 10 || d.FileName != "Q3 budget.msg" {
				t.Errorf("download %+v", d)
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(d.Body, buf); err != nil || string(buf) != "hello" {
				t.Fatalf("first half %q %v", buf, err)
			}
			close(firstRead)
			rest, err := io.ReadAll(d.Body)
			if err != nil || string(rest) != "world" {
				t.Fatalf("second half %q %v", rest, err)
			}
			req := f.only(t)
			if req.Path != "/vbo-base/"+v+"/RestoreSessions/s1/organization/mailboxes/m1/items/Save" {
				t.Errorf("path %s", req.Path)
			}
			sameJSON(t, req.Body, `{"items":[{"id":"i1"},{"id":"i2"}]}`)
		})
	}
}

func TestSaveItemsIdleTimeoutPerRead(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/zip")
		w.Write([]byte("PK"))
		w.(http.Flusher).Flush()
		select { // then nothing
		case <-stop:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(stop) }) // before the server's Close, which waits for the handler
	c := f.client(t, APIv8, ClientOptions{Timeouts: Timeouts{Idle: 100 * time.Millisecond}})
	d, err := c.SaveItems(context.Background(), "s1", mailItems)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Body.Close()
	start := time.Now()
	_, err = io.ReadAll(d.Body)
	if !errors.Is(err, ErrIdleTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the idle timeout", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("stalled read took %s", el)
	}
	if d.Length != -1 || d.FileName != "" {
		t.Errorf("download %+v", d)
	}
}

func TestSaveItemsFailureIsTypedAndNotRetried(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, replyJSON(503, `{"message":"busy"}`))
	c := f.client(t, APIv6, ClientOptions{Retry: fastRetry, MaxConcurrency: 1})
	_, err := c.SaveItems(context.Background(), "s1", mailItems)
	var e *Error
	if !MaybeApplied(err) || !errors.As(err, &e) || e.StatusCode != 503 {
		t.Fatalf("err %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
	// The failed download released its connection slot: the next call gets one.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.SaveItems(ctx, "s1", mailItems); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slot not released: %v", err)
	}
}

func TestSendItemsPerWorkload(t *testing.T) {
	t.Parallel()
	teamFiles := ActionItems{Ref: BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t1", ParentID: "c1"}, IDs: []string{"f1"}}
	tests := []struct {
		name     string
		version  string
		status   int
		items    ActionItems
		opts     SendOptions
		wantPath string
		wantBody string
		// wantReads are the items read back before the action (after …/RestoreSessions/s1).
		wantReads []string
	}{
		{"exchange default", APIv6, 200, mailItems, SendOptions{}, "/organization/mailboxes/m1/items/sendToDefaultAddress",
			`{"items":[{"id":"i1"},{"id":"i2"}]}`, nil},
		{"exchange different", APIv8, 204, mailItems, SendOptions{To: []string{"a@x.com", "b@x.com"}, Subject: "Restored", Text: "Here"},
			"/organization/mailboxes/m1/items/sendToDifferentAddress",
			`{"items":[{"id":"i1"},{"id":"i2"}],"to":"a@x.com;b@x.com","subject":"Restored","text":"Here"}`, nil},
		{"onedrive", APIv8, 204, ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: []string{"doc"}},
			SendOptions{To: []string{"a@x.com"}, From: "svc@x.com"}, "/Organization/OneDrives/d1/Documents/send",
			`{"documents":[` + itemBody("doc") + `],"to":"a@x.com","from":"svc@x.com"}`, []string{"/Organization/OneDrives/d1/Documents/doc"}},
		{"teams files", APIv6, 200, teamFiles, SendOptions{To: []string{"a@x.com"}}, "/organization/teams/t1/files/send",
			`{"files":[` + itemBody("f1") + `],"channelId":"c1","to":"a@x.com"}`, []string{"/organization/teams/t1/files/f1"}},
		{"teams posts", APIv8, 204, ActionItems{Ref: BrowseRef{Kind: BrowsePosts, ContainerID: "t1", ParentID: "c1"}, IDs: []string{"1700000000123"}},
			SendOptions{To: []string{"a@x.com"}}, "/organization/teams/t1/posts/send",
			`{"posts":[{"postId":1700000000123}],"channelId":"c1","to":"a@x.com"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRestoreVBO(t, withItemReads(func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(tt.status) }))
			resp, err := f.client(t, tt.version, ClientOptions{}).SendItems(context.Background(), "s1", tt.items, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			req, reads := f.action(t)
			checkReads(t, tt.version, reads, tt.wantReads)
			if resp.StatusCode != tt.status || req.Path != "/vbo-base/"+tt.version+"/RestoreSessions/s1"+tt.wantPath {
				t.Errorf("got %d %s", resp.StatusCode, req.Path)
			}
			sameJSON(t, req.Body, tt.wantBody)
		})
	}
	// Refused before sending: OneDrive has no default address, a recipient list smuggled in
	// one address, SharePoint list items cannot be sent.
	f := newRestoreVBO(t, replyJSON(200, ``))
	c := f.client(t, APIv6, ClientOptions{})
	for i, call := range []func() error{
		func() error {
			_, err := c.SendItems(context.Background(), "s1", ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: []string{"d"}}, SendOptions{})
			return err
		},
		func() error {
			_, err := c.SendItems(context.Background(), "s1", mailItems, SendOptions{To: []string{"a@x.com;evil@y.com"}})
			return err
		},
		func() error {
			_, err := c.SendItems(context.Background(), "s1", ActionItems{Ref: BrowseRef{Kind: BrowseSiteItems, ContainerID: "s"}, IDs: []string{"i"}}, SendOptions{To: []string{"a@x.com"}})
			return err
		},
		func() error {
			_, err := c.SendItems(context.Background(), "s1", ActionItems{Ref: mailItems.Ref}, SendOptions{})
			return err
		},
	} {
		if err := call(); !errors.Is(err, ErrNotSent) || !(errors.Is(err, ErrInvalidRef) || errors.Is(err, ErrUnsupported)) {
			t.Errorf("%d: err %v", i, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestRestoreResultPerVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, version, answer string
		want                  RestoreResult
	}{
		{"v6 exchange items", APIv6, `{"createdItemsCount":3,"mergedItemsCount":1,"failedItemsCount":1,"skippedItemsCount":2,
			"exceptions":["Mailbox is full"],"warnings":["Item too large"],"cannotContinueError":"Quota"}`,
			RestoreResult{Created: 3, Merged: 1, Failed: 1, Skipped: 2, Warnings: []string{"Item too large"}, Exceptions: []string{"Mailbox is full", "Quota"}}},
		{"v6 documents", APIv6, `{"totalItemsCount":5,"restoredItemsCount":3,"failedItemsCount":1,"skippedItemsByErrorCount":0,
			"skippedItemsByNoChangesCount":1,"restoreIssues":[{"id":"x","error":"Locked","warnings":["Renamed"]}]}`,
			RestoreResult{Total: 5, Created: 3, Failed: 1, Skipped: 1, Warnings: []string{"Renamed"}, Exceptions: []string{"Locked"}}},
		{"v8 async", APIv8, `{"sessionId":"0b8c1e7e-1111-2222-3333-444455556666"}`,
			RestoreResult{Async: true, SessionID: "0b8c1e7e-1111-2222-3333-444455556666"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRestoreVBO(t, replyJSON(200, tt.answer))
			r, _, err := f.client(t, tt.version, ClientOptions{}).RestoreItemsTo(context.Background(), "s1", mailItems,
				RestoreTarget{Mailbox: "ann@contoso.com", Folder: "Restored"})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", *r) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got  %+v\nwant %+v", *r, tt.want)
			}
		})
	}
}

func TestRestoreItemsToBodies(t *testing.T) {
	t.Parallel()
	yes := true
	creds := &RestoreCredentials{ApplicationID: "app-1", ApplicationCertificate: "MIIC", ApplicationCertificatePassword: "pfx-pw", ImpersonationAccountName: "svc@contoso.com"}
	tests := []struct {
		name, version string
		items         ActionItems
		to            RestoreTarget
		path, body    string
		reads         []string
	}{
		{"exchange", APIv6, mailItems, RestoreTarget{Mailbox: "bob@contoso.com", Folder: "Restored", MarkRestoredAsUnread: &yes, Credentials: creds},
			"/organization/mailboxes/m1/items/restoreTo",
			`{"items":[{"id":"i1"},{"id":"i2"}],"mailbox":"bob@contoso.com","folder":"Restored","markRestoredAsUnread":true,
			"applicationId":"app-1","applicationCertificate":"MIIC","applicationCertificatePassword":"pfx-pw","impersonationAccountName":"svc@contoso.com"}`, nil},
		{"onedrive v8", APIv8, ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: []string{"doc"}},
			RestoreTarget{OneDriveID: "d2", Folder: "From Ann", DocumentVersion: "Last", DocumentLastVersionAction: "Merge", ChangedItems: &yes, Credentials: &RestoreCredentials{UserCode: "ABC-123"}},
			"/Organization/OneDrives/d1/Documents/copyTo",
			`{"documents":[` + itemBody("doc") + `],"onedrive":{"id":"d2"},"folder":"From Ann","documentVersion":"Last","documentLastVersionAction":"Merge","changedItems":true,"userCode":"ABC-123"}`,
			[]string{"/Organization/OneDrives/d1/Documents/doc"}},
		{"onedrive v6 omits changedItems", APIv6, ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: []string{"doc"}},
			RestoreTarget{OneDriveURL: "https://x/personal/bob", ChangedItems: &yes},
			"/Organization/OneDrives/d1/Documents/copyTo", `{"documents":[` + itemBody("doc") + `],"onedrive":{"url":"https://x/personal/bob"}}`,
			[]string{"/Organization/OneDrives/d1/Documents/doc"}},
		{"sharepoint", APIv8, ActionItems{Ref: BrowseRef{Kind: BrowseSiteItems, ContainerID: "s1", ParentID: "list"}, IDs: []string{"it", "it2"}},
			RestoreTarget{SiteURL: "https://x/sites/other", List: "Tasks"}, "/Organization/Sites/s1/Items/restoreTo",
			`{"items":[` + itemBody("it") + `,` + itemBody("it2") + `],"siteURL":"https://x/sites/other","list":"Tasks"}`,
			[]string{"/Organization/Sites/s1/Items/it", "/Organization/Sites/s1/Items/it2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRestoreVBO(t, withItemReads(replyJSON(200, `{"sessionId":"x"}`)))
			if _, _, err := f.client(t, tt.version, ClientOptions{}).RestoreItemsTo(context.Background(), "s1", tt.items, tt.to); err != nil {
				t.Fatal(err)
			}
			req, reads := f.action(t)
			sort.Strings(reads) // read concurrently
			checkReads(t, tt.version, reads, tt.reads)
			if req.Path != "/vbo-base/"+tt.version+"/RestoreSessions/s1"+tt.path {
				t.Errorf("path %s", req.Path)
			}
			sameJSON(t, req.Body, tt.body)
		})
	}
	f := newRestoreVBO(t, replyJSON(200, `{}`))
	_, _, err := f.client(t, APIv6, ClientOptions{}).RestoreItemsTo(context.Background(), "s1",
		ActionItems{Ref: BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t", ParentID: "c"}, IDs: []string{"f"}}, RestoreTarget{})
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrNotSent) {
		t.Errorf("teams restoreTo: %v", err)
	}
}

func TestRestoreItemsToOriginalBodies(t *testing.T) {
	t.Parallel()
	app := RestoreCredentials{ApplicationID: "app-1", ApplicationCertificate: "MIIC"}
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		items      ActionItems
		opts       RestoreOriginalOptions
		path, body string
		reads      map[string]string // per version
	}{
		{"exchange", mailItems, RestoreOriginalOptions{Credentials: RestoreCredentials{UserCode: "DEV-CODE"}},
			"/organization/mailboxes/m1/items/restore", `{"items":[{"id":"i1"},{"id":"i2"}],"userCode":"DEV-CODE"}`, nil},
		{"onedrive keep", ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: []string{"doc"}},
			RestoreOriginalOptions{Credentials: app, Conflict: ConflictKeep}, "/Organization/OneDrives/d1/Documents/restore",
			`{"documents":[` + itemBody("doc") + `],"documentAction":"Keep","applicationId":"app-1","applicationCertificate":"MIIC"}`,
			map[string]string{APIv6: "/Organization/OneDrives/d1/Documents/doc", APIv8: "/Organization/OneDrives/d1/Documents/doc"}},
		{"sharepoint merge", ActionItems{Ref: BrowseRef{Kind: BrowseSiteDocuments, ContainerID: "s1", ParentID: "lib"}, IDs: []string{"sd"}},
			RestoreOriginalOptions{Credentials: app, Conflict: ConflictMerge}, "/Organization/Sites/s1/Documents/restore",
			`{"documents":[` + itemBody("sd") + `],"documentLastVersionAction":"Merge","applicationId":"app-1","applicationCertificate":"MIIC"}`,
			map[string]string{APIv6: "/Organization/Sites/s1/Documents/sd", APIv8: "/Organization/Sites/s1/Documents/sd"}},
		{"teams files", ActionItems{Ref: BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t1", ParentID: "c1"}, IDs: []string{"f1"}},
			RestoreOriginalOptions{Credentials: app, Conflict: ConflictOverwrite}, "/organization/teams/t1/files/restore",
			`{"files":[` + itemBody("f1") + `],"channelId":"c1","restoreChangedItems":true,"restoreMissingItems":true,"fileVersion":"Last","applicationId":"app-1","applicationCertificate":"MIIC"}`,
			map[string]string{APIv6: "/organization/teams/t1/files/f1", APIv8: "/organization/teams/t1/channels/c1/files/f1"}},
		{"teams posts", ActionItems{Ref: BrowseRef{Kind: BrowsePosts, ContainerID: "t1", ParentID: "c1"}},
			RestoreOriginalOptions{Credentials: app, PostsFrom: &from}, "/organization/teams/t1/posts/restore",
			`{"channelId":"c1","from":"2026-11-01T00:00:00Z","applicationId":"app-1","applicationCertificate":"MIIC"}`, nil},
		{"team with members and settings", ActionItems{Ref: BrowseRef{Kind: BrowseTeams}, IDs: []string{"t1"}},
			RestoreOriginalOptions{Credentials: app, RestoreMembers: true, RestoreSettings: true}, "/organization/teams/t1/restore",
			`{"restoreChangedItems":false,"restoreMissingItems":true,"restoreMembers":true,"restoreSettings":true,"applicationId":"app-1","applicationCertificate":"MIIC"}`, nil},
	}
	for _, tt := range tests {
		for _, v := range []string{APIv6, APIv8} {
			t.Run(v+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				answer := `{"totalItemsCount":1,"restoredItemsCount":1}`
				if v == APIv8 {
					answer = `{"sessionId":"rs-1"}`
				}
				f := newRestoreVBO(t, withItemReads(replyJSON(200, answer)))
				r, _, err := f.client(t, v, ClientOptions{}).RestoreItemsToOriginal(context.Background(), "s1", tt.items, tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				if r.Async != (v == APIv8) || (v == APIv6 && r.Created != 1) || (v == APIv8 && r.SessionID != "rs-1") {
					t.Errorf("result %+v", r)
				}
				req, reads := f.action(t)
				var want []string
				if p := tt.reads[v]; p != "" {
					want = []string{p}
				}
				checkReads(t, v, reads, want)
				if req.Path != "/vbo-base/"+v+"/RestoreSessions/s1"+tt.path {
					t.Errorf("path %s", req.Path)
				}
				sameJSON(t, req.Body, tt.body)
			})
		}
	}
	if !(RestoreOriginalOptions{RestoreMembers: true}).Destructive() || (RestoreOriginalOptions{}).Destructive() {
		t.Error("Destructive")
	}
	// Refused before sending.
	f := newRestoreVBO(t, replyJSON(200, `{}`))
	c := f.client(t, APIv8, ClientOptions{})
	for i, tc := range []struct {
		items ActionItems
		opts  RestoreOriginalOptions
	}{
		{mailItems, RestoreOriginalOptions{}}, // no credentials
		{ActionItems{Ref: BrowseRef{Kind: BrowsePosts, ContainerID: "t", ParentID: "c"}, IDs: []string{"1"}}, RestoreOriginalOptions{Credentials: app}},
		{ActionItems{Ref: BrowseRef{Kind: BrowseTeams}, IDs: []string{"t1", "t2"}}, RestoreOriginalOptions{Credentials: app}},
		{ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d"}, IDs: []string{"x"}}, RestoreOriginalOptions{Credentials: app, Conflict: ConflictMerge}},
		{ActionItems{Ref: BrowseRef{Kind: BrowseMailboxes}, IDs: []string{"m"}}, RestoreOriginalOptions{Credentials: app}},
		{ActionItems{Ref: mailItems.Ref, IDs: []string{".."}}, RestoreOriginalOptions{Credentials: app}},
		{ActionItems{Ref: BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t"}, IDs: []string{"f"}}, RestoreOriginalOptions{Credentials: app}}, // no channel
	} {
		if _, _, err := c.RestoreItemsToOriginal(context.Background(), "s1", tc.items, tc.opts); !errors.Is(err, ErrNotSent) {
			t.Errorf("%d: err %v, want not sent", i, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestRestoreActionsNeverRetried(t *testing.T) {
	t.Parallel()
	f := newRestoreVBO(t, resetConnection)
	c := f.client(t, APIv8, ClientOptions{Retry: fastRetry})
	_, _, err := c.RestoreItemsToOriginal(context.Background(), "s1", mailItems, RestoreOriginalOptions{Credentials: RestoreCredentials{UserCode: "X"}})
	if !MaybeApplied(err) {
		t.Fatalf("err %v, want outcome unknown", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("sent %d times", n)
	}
}

func TestRestoreDeviceCode(t *testing.T) {
	t.Parallel()
	for _, v := range []string{APIv6, APIv8} {
		f := newRestoreVBO(t, replyJSON(200, `{"userCode":"GH7-KX2","verificationUrl":"https://microsoft.com/devicelogin","expiresIn":900,"message":"Enter the code"}`))
		d, _, err := f.client(t, v, ClientOptions{}).RestoreDeviceCode(context.Background(), "s1",
			DeviceCodeRequest{TargetApplicationID: "app-1", TargetRegion: "Worldwide"})
		if err != nil {
			t.Fatal(err)
		}
		if d.UserCode != "GH7-KX2" || d.ExpiresIn != 900 || d.VerificationURL != "https://microsoft.com/devicelogin" {
			t.Errorf("%s: %#v", v, *d)
		}
		req := f.only(t)
		if req.Path != "/vbo-base/"+v+"/RestoreSessions/s1/organization/restoreDeviceCode" {
			t.Errorf("path %s", req.Path)
		}
		sameJSON(t, req.Body, `{"targetApplicationId":"app-1","targetRegion":"Worldwide"}`)
		if s := fmt.Sprintf("%v %+v %#v", *d, *d, *d); strings.Contains(s, "GH7-KX2") {
			t.Errorf("device code printed: %s", s)
		}
	}
}

// TestRestoreCredentialsNeverPrintSecrets: fmt (every verb, nested in a struct, through a
// pointer), slog (text and JSON) and encoding/json show no secret.
func TestRestoreCredentialsNeverPrintSecrets(t *testing.T) {
	t.Parallel()
	secrets := []string{"CERT-SECRET-BASE64", "PFX-PASSWORD", "USER-PASSWORD", "DEVICE-CODE"}
	creds := RestoreCredentials{ApplicationID: "app-1", ApplicationCertificate: secrets[0], ApplicationCertificatePassword: secrets[1],
		UserName: "ann", UserPassword: secrets[2], UserCode: secrets[3]}
	holder := struct {
		Creds  RestoreCredentials
		PCreds *RestoreCredentials
		Opts   RestoreOriginalOptions
		Target RestoreTarget
	}{creds, &creds, RestoreOriginalOptions{Credentials: creds}, RestoreTarget{Credentials: &creds}}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		fmt.Fprintf(&out, verb+"\n", creds)
		fmt.Fprintf(&out, verb+"\n", &creds)
		fmt.Fprintf(&out, verb+"\n", holder)
	}
	fmt.Fprint(&out, creds, creds.body())
	fmt.Fprintf(&out, "%+v %#v", creds.body(), creds.body())
	slog.New(slog.NewTextHandler(&out, nil)).Info("restore", "creds", creds, "ptr", &creds)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("restore", "creds", creds, "opts", holder.Opts)
	b, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Errorf("secret %q printed in:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "app-1") || !strings.Contains(out.String(), redacted) {
		t.Errorf("redacted form lost the application id or the marker:\n%s", out.String())
	}
	// The request body still carries them to VBO.
	body := map[string]any{}
	setCredentials(body, &creds)
	if body["applicationCertificate"] != secrets[0] || body["userPassword"] != secrets[2] {
		t.Errorf("body %v", body)
	}
}

// TestSaveItemsOutlivesClientTimeout: a download that keeps sending lasts as long as it sends.
// The HTTP client's Timeout (60s when the client builds its own) bounds a whole exchange, body
// included: on a stream it would cut every download longer than that, whatever its pace. The
// stream is bounded by the idle deadline per read and the caller's context instead.
func TestSaveItemsOutlivesClientTimeout(t *testing.T) {
	t.Parallel()
	const chunks = 12
	f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/octet-stream")
		for range chunks {
			if _, err := w.Write([]byte("0123456789")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(40 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	// The whole download (about 480ms) takes longer than the client's Timeout; no read waits
	// longer than the idle deadline.
	c := f.client(t, APIv8, ClientOptions{HTTPClient: &http.Client{Timeout: 200 * time.Millisecond},
		Timeouts: Timeouts{Attempt: 5 * time.Second, Idle: 2 * time.Second}})
	d, err := c.SaveItems(context.Background(), "s1", mailItems)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Body.Close()
	b, err := io.ReadAll(d.Body)
	if err != nil || len(b) != 10*chunks {
		t.Fatalf("read %d bytes, err %v", len(b), err)
	}
}

// TestSaveItemsStallWithoutIdleTimeout: with no idle timeout configured, a stalled stream still
// ends: the client's own Timeout becomes the idle deadline.
func TestSaveItemsStallWithoutIdleTimeout(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/zip")
		w.Write([]byte("PK"))
		w.(http.Flusher).Flush()
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(stop) })
	c := f.client(t, APIv8, ClientOptions{HTTPClient: &http.Client{Timeout: 150 * time.Millisecond}})
	d, err := c.SaveItems(context.Background(), "s1", mailItems)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Body.Close()
	start := time.Now()
	if _, err := io.ReadAll(d.Body); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("err %v, want the idle timeout", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("stalled read took %s", el)
	}
}

// TestDeviceCodeNeverLogged: a device code logged (slog text or JSON) shows no user code; its
// message, which repeats the code, is left out too.
func TestDeviceCodeNeverLogged(t *testing.T) {
	t.Parallel()
	d := DeviceCode{UserCode: "GH7-KX2", VerificationURL: "https://microsoft.com/devicelogin", ExpiresIn: 900,
		Message: "To sign in, enter the code GH7-KX2"}
	var out bytes.Buffer
	slog.New(slog.NewTextHandler(&out, nil)).Info("device code", "code", d, "ptr", &d)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("device code", "code", d, "ptr", &d)
	if strings.Contains(out.String(), "GH7-KX2") {
		t.Errorf("user code logged:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "devicelogin") {
		t.Errorf("verification URL lost:\n%s", out.String())
	}
}
