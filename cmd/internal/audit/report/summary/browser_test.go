package summary

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// updateDocs re-renders docs/reports/example.png (go test ./cmd/internal/audit/report/summary
// -run TestExampleScreenshot -update-docs); the page is committed.
var updateDocs = flag.Bool("update-docs", false, "render the example report to docs/reports/example.png")

// chromiumPath is Debian's chromium (.ci/run installs it), or the one on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("chromium not found (/usr/bin/chromium; apt-get install chromium): the summary is not rendered in a browser")
	return ""
}

// browser starts a headless chromium with a fresh profile; cancelled at the end of the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	// Started here, and once more if it does not come up: on a loaded CI machine Debian's
	// chromium once exited before it announced its DevTools endpoint ("chrome failed to
	// start"), once in hundreds of starts. A second failure fails the test.
	for attempt := 1; ; attempt++ {
		actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		err := chromedp.Do(bctx) // no steps: starts the browser and its first tab
		if err == nil {
			t.Cleanup(acancel)
			t.Cleanup(bcancel)
			return bctx
		}
		bcancel()
		acancel()
		if attempt == 2 {
			t.Fatalf("chromium did not start twice: %v", err)
		}
		t.Logf("chromium did not start (%v); starting it again", err)
	}
}

// serve serves page on loopback (a data: URL would hide what a real load reports).
func serve(t *testing.T, page []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// example is the summary the docs show: the synthetic archive's week, with a second server.
func example(t *testing.T, complete bool) *Summary {
	t.Helper()
	in := input(archive())
	in.Title, in.Scope = "Weekly restore report", "tenant Contoso (2 organisations)"
	in.Coverage = append(in.Coverage, &model.RestoreAuditCoverage{Server: &model.VboServer{Name: "vbo2"},
		From: ptr(week.From.AddDate(0, -1, 0)), To: ptr(week.To.Add(-time.Minute)), Complete: complete})
	in.Complete = complete
	s, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The summary renders in a real browser without a console error or exception, and shows its
// totals (and, when incomplete, the banner).
func TestSummaryRendersInChromium(t *testing.T) {
	for _, complete := range []bool{true, false} {
		s := example(t, complete)
		page, err := s.HTML()
		if err != nil {
			t.Fatal(err)
		}
		ctx := browser(t)
		var mu sync.Mutex
		var problems []string
		err = chromedp.Listen(ctx, func(ev any) {
			mu.Lock()
			defer mu.Unlock()
			switch e := ev.(type) {
			case *runtime.EventConsoleAPICalled:
				if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
					problems = append(problems, "console "+string(e.Type))
				}
			case *runtime.EventExceptionThrown:
				problems = append(problems, "exception: "+e.ExceptionDetails.Text)
			case *cdplog.EventEntryAdded:
				if e.Entry.Level == cdplog.EntryLevelError {
					problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, enable := range []cdp.Command[cdp.Empty, cdp.Empty]{cdplog.Enable, runtime.Enable} {
			if _, err := chromedp.Call(ctx, enable, cdp.Empty{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(serve(t, page)), chromedp.WaitReady(chromedp.CSS("#totals"))); err != nil {
			t.Fatalf("complete=%v: %v", complete, err)
		}
		totals, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#totals")))
		if err != nil {
			t.Fatal(err)
		}
		banner, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("incomplete") || {innerText: ""}).innerText`))
		if err != nil {
			t.Fatal(err)
		}
		external, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script, link, img, iframe, object").length`))
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(problems) > 0 {
			t.Errorf("complete=%v: console problems: %q", complete, problems)
		}
		mu.Unlock()
		fields := strings.Fields(totals)
		if want := []string{"4", "sessions", "16", "items", "1.6", "KiB", "restored", "1", "failed"}; strings.Join(fields, " ") != strings.Join(want, " ") {
			t.Errorf("complete=%v: totals read %q, want %q", complete, fields, want)
		}
		if complete != (banner == "") || !complete && !strings.HasPrefix(banner, "INCOMPLETE: the archive does not cover week 28") {
			t.Errorf("complete=%v: banner %q", complete, banner)
		}
		if external > 0 {
			t.Errorf("complete=%v: the page holds %d script/link/img/iframe/object elements", complete, external)
		}
	}
}

// TestExampleScreenshot renders the example report to docs/reports/example.png (with
// -update-docs only).
func TestExampleScreenshot(t *testing.T) {
	if !*updateDocs {
		t.Skip("renders docs/reports/example.png with -update-docs")
	}
	page, err := example(t, true).HTML()
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1000, 900),
		chromedp.Navigate(serve(t, page)),
		chromedp.WaitReady(chromedp.CSS("#totals")),
	); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("..", "..", "..", "..", "..", "docs", "reports", "example.png")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, len(png))
}
