package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestItemReadFailuresSendNothing: when reading an item back fails (VBO does not know it,
// answers another item, one without an id, one of another drive, site, team or channel than
// the one read, not an object, or an oversized one), the action is refused as not sent and its
// POST never leaves.
func TestItemReadFailuresSendNothing(t *testing.T) {
	t.Parallel()
	docs := ActionItems{Ref: BrowseRef{Kind: BrowseSiteDocuments, ContainerID: "s1", ParentID: "lib"}, IDs: []string{"a", "b"}}
	files := ActionItems{Ref: BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t1", ParentID: "19:c1"}, IDs: []string{"f1"}}
	drive := ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: []string{"a"}}
	tests := []struct {
		name   string
		items  *ActionItems // nil: docs
		answer func(id string) (int, string)
	}{
		{"not found", nil, func(id string) (int, string) {
			if id == "b" {
				return 404, `{"message":"Document with ID 'b' was not found."}`
			}
			return 200, itemJSON(id)
		}},
		{"another item", nil, func(id string) (int, string) { return 200, itemJSON("other") }},
		{"no id", nil, func(id string) (int, string) { return 200, `{"name":"x.docx"}` }},
		{"another site", nil, func(id string) (int, string) { return 200, `{"id":"` + id + `","siteId":"s2"}` }},
		{"site id not a string", nil, func(id string) (int, string) { return 200, `{"id":"` + id + `","siteId":{"id":"s1"}}` }},
		{"another drive", &drive, func(id string) (int, string) { return 200, `{"id":"` + id + `","oneDriveId":"d2"}` }},
		{"another channel", &files, func(id string) (int, string) {
			return 200, `{"id":"` + id + `","channelId":"19:c2","teamId":"t1"}`
		}},
		{"another team", &files, func(id string) (int, string) {
			return 200, `{"id":"` + id + `","channelId":"19:c1","teamId":"t2"}`
		}},
		{"not an object", nil, func(id string) (int, string) { return 200, `["` + id + `"]` }},
		{"oversized", nil, func(id string) (int, string) {
			return 200, `{"id":"` + id + `","name":"` + strings.Repeat("x", maxItemObject) + `"}`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if r.Method == http.MethodPost {
					w.WriteHeader(200)
					return
				}
				p := strings.Split(r.URL.Path, "/")
				status, body := tt.answer(p[len(p)-1])
				replyJSON(status, body)(w, r, n)
			})
			c := f.client(t, APIv8, ClientOptions{})
			items := docs
			if tt.items != nil {
				items = *tt.items
			}
			_, err := c.SendItems(context.Background(), "s1", items, SendOptions{To: []string{"a@x.com"}})
			if !errors.Is(err, ErrNotSent) {
				t.Fatalf("err %v, want not sent", err)
			}
			for _, r := range f.requests() {
				if r.Method == http.MethodPost {
					t.Fatalf("the action was sent after a failed item read: %s", r.Path)
				}
			}
		})
	}
}

// TestItemObjectsKeepVBOFields: the body carries every field VBO answered for the item, in
// VBO's spelling and order, less _links; ids-only collections are not read.
func TestItemObjectsKeepVBOFields(t *testing.T) {
	t.Parallel()
	const answer = `{"ID":"f1","channelId":"19:abc@thread.tacv2","name":"Plan.xlsx","fileType":"File","uiVersion":"3.0",` +
		`"_links":{"self":{"href":"/v8/x"}},"sizeBytes":12,"version":3}`
	f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method == http.MethodGet {
			replyJSON(200, answer)(w, r, n)
			return
		}
		w.WriteHeader(200)
	})
	c := f.client(t, APIv8, ClientOptions{})
	files := ActionItems{Ref: BrowseRef{Kind: BrowseTeamFiles, ContainerID: "t1", ParentID: "19:abc@thread.tacv2"}, IDs: []string{"f1"}}
	if _, err := c.SaveItems(context.Background(), "s1", files); err != nil {
		t.Fatal(err)
	}
	post, reads := f.action(t)
	if len(reads) != 1 || reads[0] != "/vbo-base/v8/RestoreSessions/s1/organization/teams/t1/channels/19:abc@thread.tacv2/files/f1" {
		t.Errorf("reads %v", reads)
	}
	want := `{"channelId":"19:abc@thread.tacv2","files":[{"ID":"f1","channelId":"19:abc@thread.tacv2","name":"Plan.xlsx","fileType":"File","uiVersion":"3.0","sizeBytes":12,"version":3}]}`
	sameJSON(t, post.Body, want)
	if !strings.Contains(string(post.Body), `{"ID":"f1","channelId"`) {
		t.Errorf("VBO's order or spelling lost: %s", post.Body)
	}
	for _, kind := range []BrowseKind{BrowseMailItems, BrowsePosts, BrowseTeams, BrowseMailboxes} {
		if NeedsItemObjects(kind) {
			t.Errorf("%s read back", kind)
		}
	}
}

// TestItemReadsBounded: many items are read at most itemReadConcurrency at a time.
func TestItemReadsBounded(t *testing.T) {
	t.Parallel()
	var inFlight, peak int
	var mu = make(chan struct{}, 1)
	release := make(chan struct{})
	f := newRestoreVBO(t, withItemReads(func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(200) }))
	inner := f.reply
	f.reply = func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method == http.MethodGet {
			mu <- struct{}{}
			inFlight++
			peak = max(peak, inFlight)
			if inFlight == itemReadConcurrency {
				close(release)
			}
			<-mu
			<-release
			mu <- struct{}{}
			inFlight--
			<-mu
		}
		inner(w, r, n)
	}
	ids := make([]string, 3*itemReadConcurrency)
	for i := range ids {
		ids[i] = fmt.Sprint("d", i)
	}
	c := f.client(t, APIv6, ClientOptions{MaxConcurrency: 64})
	items := ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: ids}
	if _, err := c.SendItems(context.Background(), "s1", items, SendOptions{To: []string{"a@x.com"}}); err != nil {
		t.Fatal(err)
	}
	if peak != itemReadConcurrency {
		t.Errorf("peak %d concurrent reads, want %d", peak, itemReadConcurrency)
	}
	post, reads := f.action(t)
	if len(reads) != len(ids) {
		t.Errorf("%d reads", len(reads))
	}
	for i, id := range ids { // the body keeps the ids' order whatever order the reads ended in
		if !strings.Contains(string(post.Body), fmt.Sprintf(`{"id":"%s"`, id)) || i > 0 &&
			strings.Index(string(post.Body), `"id":"`+ids[i-1]+`"`) > strings.Index(string(post.Body), `"id":"`+id+`"`) {
			t.Fatalf("body order: %s", post.Body)
		}
	}
}

// TestItemReadsRetriedActionNot: the item reads are GETs and retried like any read (a 503
// once); the action's POST after them is still sent once, its lost answer outcome unknown.
func TestItemReadsRetriedActionNot(t *testing.T) {
	t.Parallel()
	failedOnce := false
	f := newRestoreVBO(t, withItemReads(resetConnection))
	reads := f.reply
	f.reply = func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method == http.MethodGet && !failedOnce {
			failedOnce = true
			replyJSON(503, `{"message":"busy"}`)(w, r, n)
			return
		}
		reads(w, r, n)
	}
	c := f.client(t, APIv8, ClientOptions{Retry: fastRetry})
	items := ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: []string{"doc"}}
	_, _, err := c.RestoreItemsToOriginal(context.Background(), "s1", items, RestoreOriginalOptions{Credentials: RestoreCredentials{UserCode: "X"}})
	if !MaybeApplied(err) {
		t.Fatalf("err %v, want outcome unknown", err)
	}
	var gets, posts int
	for _, r := range f.requests() {
		if r.Method == http.MethodGet {
			gets++
		} else {
			posts++
		}
	}
	if gets != 2 || posts != 1 {
		t.Errorf("%d reads (want 2: one retried), %d POSTs (want 1)", gets, posts)
	}
}

// TestItemReadStopsAtItsBound: an item answer far beyond maxItemObject is not read to its end
// (the read stops a little past the bound, not at the 64 MiB of any answer), and the action is
// not sent.
func TestItemReadStopsAtItsBound(t *testing.T) {
	t.Parallel()
	const total, chunk = 48 << 20, 64 << 10
	var written atomic.Int64
	done := make(chan struct{})
	f := newRestoreVBO(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method == http.MethodPost {
			w.WriteHeader(200)
			return
		}
		defer close(done)
		w.Header().Set("Content-Type", "application/json")
		fill := []byte(strings.Repeat("x", chunk))
		if _, err := io.WriteString(w, `{"id":"a","name":"`); err != nil {
			return
		}
		for written.Load() < total {
			k, err := w.Write(fill)
			written.Add(int64(k))
			if err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `"}`)
	})
	c := f.client(t, APIv8, ClientOptions{})
	items := ActionItems{Ref: BrowseRef{Kind: BrowseDriveDocuments, ContainerID: "d1"}, IDs: []string{"a"}}
	if _, err := c.SaveItems(context.Background(), "s1", items); !errors.Is(err, ErrNotSent) {
		t.Fatalf("err %v, want not sent", err)
	}
	<-done
	if n := written.Load(); n > total/3 {
		t.Errorf("the gateway read %d MiB of an item answer (bound %d KiB)", n>>20, maxItemObject>>10)
	}
	for _, r := range f.requests() {
		if r.Method == http.MethodPost && !strings.HasSuffix(r.Path, "/token") {
			t.Fatalf("the action was sent: %s", r.Path)
		}
	}
}
