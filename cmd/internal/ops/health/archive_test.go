package health_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/health"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// /readyz answers 503 naming the archive and the cause once the archive has been unwritable for
// longer than the bound, says VBO reads keep working, and is ready again once it is written.
func TestReadyzArchiveUnwritable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(vbosim.New(vbosim.Options{Name: "syd1", Username: "u", Password: "p", Orgs: 1, Sessions: 1}))
	defer srv.Close()
	c, err := upstream.NewClient(srv.URL, upstream.ClientOptions{Name: "syd1", Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	fleet, _ := upstream.NewFleet(c)
	var mu sync.Mutex
	st := health.ArchiveState{Driver: "postgres", Writable: true}
	m := health.New(fleet, health.Options{ArchiveUnwritableAfter: time.Second, Archive: func() health.ArchiveState {
		mu.Lock()
		defer mu.Unlock()
		return st
	}})
	m.ProbeAll(context.Background())
	set := func(s health.ArchiveState) { mu.Lock(); st = s; mu.Unlock() }
	type body struct {
		Ready    bool `json:"ready"`
		VBOReads bool `json:"vboReads"`
		Archive  struct {
			Driver, Cause, Message string
			Writable, Ready        bool
			UnwritableSince        *time.Time
		} `json:"archive"`
	}
	get := func() (int, body) {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var b body
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatalf("/readyz body %s: %v", rec.Body, err)
		}
		return rec.Code, b
	}
	for _, tc := range []struct {
		name     string
		state    health.ArchiveState
		code     int
		archive  bool // archive.ready
		contains string
	}{
		{"writable", health.ArchiveState{Driver: "postgres", Writable: true}, 200, true, ""},
		{"unwritable within the bound", health.ArchiveState{Driver: "postgres", Since: time.Now(), Cause: "connection"}, 200, true, "not ready after 1s"},
		{"unwritable past the bound", health.ArchiveState{Driver: "postgres", Since: time.Now().Add(-5 * time.Second), Cause: "connection"}, 503, false,
			"the restore audit archive (postgres) has not been writable for 5s (cause: connection; bound 1s)"},
		{"written again", health.ArchiveState{Driver: "postgres", Writable: true}, 200, true, ""},
	} {
		set(tc.state)
		code, b := get()
		if code != tc.code || b.Ready != (tc.code == 200) || b.Archive.Ready != tc.archive || !b.VBOReads || b.Archive.Driver != "postgres" {
			t.Errorf("%s: /readyz %d %+v", tc.name, code, b)
		}
		if !strings.Contains(b.Archive.Message, tc.contains) || (tc.contains == "") != (b.Archive.Message == "") {
			t.Errorf("%s: message %q, want it to contain %q", tc.name, b.Archive.Message, tc.contains)
		}
		if !tc.state.Writable && (b.Archive.Cause != "connection" || b.Archive.UnwritableSince == nil || b.Archive.Writable) {
			t.Errorf("%s: archive %+v", tc.name, b.Archive)
		}
		if tc.code == 503 && !strings.Contains(b.Archive.Message, "reads from the VBO servers keep working") {
			t.Errorf("%s: message does not say VBO reads keep working: %q", tc.name, b.Archive.Message)
		}
	}
}
