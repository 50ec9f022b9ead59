package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pageTemplate is one page with the layout.
type pageTemplate = *template.Template

var pageNames = []string{"signin", "overview", "sessions", "session", "live", "rules", "rule", "ruleform", "secret", "error", "restore", "restoresession", "restoreconfirm", "restoreresult", "approvals"}

// pageParts are the shared blocks a page uses besides the layout.
var pageParts = map[string][]string{"rule": {"ruleformfields"}, "ruleform": {"ruleformfields"}}

func parsePages() (map[string]pageTemplate, error) {
	funcs := template.FuncMap{
		"time": func(s string) string {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return s
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"deref": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
		"lower": strings.ToLower,
		"json": func(v any) (template.JS, error) { // for a JSON data block, never executed
			b, err := json.Marshal(v)
			return template.JS(b), err
		},
		"has": slices.Contains[[]string],
	}
	out := map[string]pageTemplate{}
	for _, n := range pageNames {
		files := []string{"templates/layout.html"}
		for _, p := range pageParts[n] {
			files = append(files, "templates/"+p+".html")
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, append(files, "templates/"+n+".html")...)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		out[n] = t
	}
	return out, nil
}

// pageData is what every page gets.
type pageData struct {
	Title   string
	Nav     string
	Session *sessionView
	Tenants []string
	Tenant  string // the provider admin's chosen tenant
	// Query is "tenant=..." to keep on links, or "": a URL fragment already escaped (the tenant
	// by url.QueryEscape), so the template keeps its "=" (as a plain string html/template
	// escaped it to one key, "tenant%3d...", and every link lost the chosen tenant).
	Query template.URL
	Notes []string
	Data  any
	// Reauth is the "sign in again" link of an error page: the gateway refused an action
	// because the person's OpenID Connect sign-in is older than restore.stepUpMaxAge.
	Reauth string
}

type sessionView struct {
	Subject, Role, Tenant, CSRF string
	Admin, TenantAdmin          bool
	// Restorer: the role may start, browse and stop restores (the Restore page).
	Restorer bool
}

func (s *server) render(w http.ResponseWriter, r *http.Request, name string, d pageData) {
	if sess := sessionFrom(r.Context()); sess != nil {
		p := sess.principal
		d.Session = &sessionView{Subject: p.Subject, Role: string(p.Role), Tenant: p.Tenant, CSRF: sess.csrf,
			Admin: p.IsAdmin(), TenantAdmin: mayApprove(p), Restorer: mayRestore(p)}
		if p.IsAdmin() {
			d.Tenants, d.Tenant = s.opts.Authority.Tenants(), sess.tenant
			if sess.tenant != "" {
				d.Query = template.URL("tenant=" + url.QueryEscape(sess.tenant))
			}
		}
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", d); err != nil {
		s.log.ErrorContext(r.Context(), "console render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error page (the gateway's message for GraphQL errors, a generic one otherwise).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	msg, status := "Something went wrong; try again.", http.StatusInternalServerError
	if ge, ok := err.(gqlErrors); ok {
		msg, status = ge.Error(), http.StatusOK
		for _, e := range ge {
			switch e.code() {
			case "NOT_FOUND":
				status = http.StatusNotFound
			case "FORBIDDEN":
				status = http.StatusForbidden
			case "BAD_USER_INPUT":
				status = http.StatusBadRequest
			}
		}
	} else {
		s.log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
	}
	w.WriteHeader(status)
	s.render(w, r, "error", pageData{Title: "Error", Data: msg, Reauth: s.reauthLink(r, err)})
}

// ruleStepUp is the rule the gateway names when it refuses for want of fresh authentication
// (policy.RuleStepUp; the console does not import the restore wing: TestImportDirection, and
// TestConsoleOIDCStepUp fails if the two drift apart).
const ruleStepUp = "restore.stepUpMaxAge"

// stepUpRefused reports the gateway refusing an action for want of fresh authentication
// (restore.stepUpMaxAge: a restore to the original location, or its approval, by a person
// whose sign-in is older than that, or whose ID token had no auth_time).
func stepUpRefused(err error) bool {
	var ge gqlErrors
	if !errors.As(err, &ge) {
		return false
	}
	for _, e := range ge {
		if e.code() == "FORBIDDEN" && strings.Contains(e.Message, "(rule "+ruleStepUp+")") {
			return true
		}
	}
	return false
}

// reauthLink is where a person refused for a stale OpenID Connect sign-in signs in again: a
// new sign-in that asks the issuer to authenticate the person afresh (a new auth_time), then
// back to the restore session the action was on (or to the Approvals page, for an approval).
// "" for any other error or session.
func (s *server) reauthLink(r *http.Request, err error) string {
	sess := sessionFrom(r.Context())
	if s.cfg.OIDC == nil || sess == nil || sess.kind != kindOIDC || !stepUpRefused(err) {
		return ""
	}
	next := "/console/restore"
	switch id := r.PathValue("id"); {
	case strings.HasPrefix(r.URL.Path, "/console/approvals/"):
		next = "/console/approvals" // an approval: back to the list, to approve again
	case id != "" && strings.HasPrefix(r.URL.Path, "/console/restore/"):
		next += "/" + url.PathEscape(id)
	}
	return "/console/auth/start?reauth=1&next=" + url.QueryEscape(next+s.keep(r, "?"))
}

func notes(errs gqlErrors) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Message)
	}
	return out
}

// window is the time window a page shows: ?window=7d (24h, 7d, 30d, 90d) or ?from=&to= dates.
type window struct {
	From, To time.Time
	Name     string // the preset, or "" for custom dates
}

var windows = []struct {
	Name string
	D    time.Duration
}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}, {"90d", 90 * 24 * time.Hour}}

func (s *server) windowOf(r *http.Request) (window, error) {
	q := r.URL.Query()
	now := s.now().UTC()
	if f, t := q.Get("from"), q.Get("to"); f != "" || t != "" {
		from, err := time.Parse(time.DateOnly, f)
		if err != nil {
			return window{}, fmt.Errorf("from %q: want a date, YYYY-MM-DD", f)
		}
		to := now
		if t != "" {
			if to, err = time.Parse(time.DateOnly, t); err != nil {
				return window{}, fmt.Errorf("to %q: want a date, YYYY-MM-DD", t)
			}
			to = to.Add(24 * time.Hour) // the whole day
		}
		if !to.After(from) {
			return window{}, fmt.Errorf("to %s is not after from %s", t, f)
		}
		return window{From: from, To: to}, nil
	}
	name := q.Get("window")
	for _, w := range windows {
		if w.Name == name || name == "" && w.Name == "30d" {
			return window{From: now.Add(-w.D), To: now, Name: w.Name}, nil
		}
	}
	return window{}, fmt.Errorf("window %q: want 24h, 7d, 30d or 90d", name)
}

func (w window) vars() (string, string) {
	return w.From.Format(time.RFC3339), w.To.Format(time.RFC3339)
}

func (w window) query() string {
	if w.Name != "" {
		return "window=" + w.Name
	}
	return "from=" + w.From.Format(time.DateOnly) + "&to=" + w.To.Add(-time.Nanosecond).Format(time.DateOnly)
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "&")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
