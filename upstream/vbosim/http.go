package vbosim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

const contentTypeJSON = "application/json; charset=utf-8"

// route identifiers
type routeID int

const (
	rToken routeID = iota + 1
	rOrgs
	rOrg
	rSessions
	rSession
	rEvents
	rEvent
	rChanges // v8 only
)

var routeTemplates = map[routeID]string{
	rToken:    "POST /%s/token",
	rOrgs:     "GET /%s/Organizations",
	rOrg:      "GET /%s/Organizations/{organizationId}",
	rSessions: "GET /%s/RestoreSessions",
	rSession:  "GET /%s/RestoreSessions/{restoreSessionId}",
	rEvents:   "GET /%s/RestoreSessions/{restoreSessionId}/Events",
	rEvent:    "GET /%s/RestoreSessions/{restoreSessionId}/Events/{eventId}",
	rChanges:  "GET /%s/Events",
}

// routePattern is one resource's path after the version: literal segments compared ignoring
// case, "*" for a path parameter.
type routePattern struct {
	rt       routeID
	segs     []string
	method   string
	needFeed bool // served only where the change feed exists (v8)
}

// routePatterns are the resources the simulator serves, by path.
var routePatterns = []routePattern{
	{rToken, []string{"token"}, http.MethodPost, false},
	{rOrgs, []string{"Organizations"}, http.MethodGet, false},
	{rOrg, []string{"Organizations", "*"}, http.MethodGet, false},
	{rSessions, []string{"RestoreSessions"}, http.MethodGet, false},
	{rSession, []string{"RestoreSessions", "*"}, http.MethodGet, false},
	{rEvents, []string{"RestoreSessions", "*", "Events"}, http.MethodGet, false},
	{rEvent, []string{"RestoreSessions", "*", "Events", "*"}, http.MethodGet, false},
	{rChanges, []string{"Events"}, http.MethodGet, true},
}

// params returns the path parameters of segs if they match the pattern.
func (pt routePattern) params(segs []string) ([]string, bool) {
	if len(segs) != len(pt.segs) {
		return nil, false
	}
	var params []string
	for i, want := range pt.segs {
		switch {
		case want == "*":
			params = append(params, segs[i])
		case !strings.EqualFold(segs[i], want):
			return nil, false
		}
	}
	return params, true
}

// match resolves a path case-insensitively. found=false: no such resource (404);
// method=false: resource exists with another method (405).
func (s *Server) match(method, path string) (rt routeID, params []string, found, methodOK bool, allow string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 2 || !strings.EqualFold(segs[0], s.ver) {
		return 0, nil, false, false, ""
	}
	for _, pt := range routePatterns {
		ps, ok := pt.params(segs[1:])
		if !ok || pt.needFeed && s.feed == nil {
			continue
		}
		for i, p := range ps {
			if p == "" {
				return 0, nil, false, false, ""
			}
			if u, err := url.PathUnescape(p); err == nil {
				ps[i] = u
			}
		}
		want := pt.method
		return pt.rt, ps, true, method == want || (want == http.MethodGet && method == http.MethodHead), want
	}
	return s.matchRestore(method, segs[1:])
}

// routeKey is the Stats key of a route, e.g. "GET /v6/RestoreSessions".
func (s *Server) routeKey(rt routeID) string {
	if rt >= rRestoreBase {
		rr := restoreRoutes[rt-rRestoreBase]
		return rr.method + " /" + s.ver + rr.tmpl
	}
	return fmt.Sprintf(routeTemplates[rt], s.ver)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", contentTypeJSON)
	if strings.HasPrefix(strings.ToLower(r.URL.Path), "/_sim/") {
		s.serveSim(w, r)
		return
	}
	rt, params, found, methodOK, allow := s.match(r.Method, r.URL.Path)
	if found && methodOK {
		s.count(s.routeKey(rt))
	}
	fd := s.decideFaults(rt == rToken)
	if fd.down {
		w.Header().Set("Connection", "close")
		s.writeError(w, http.StatusServiceUnavailable, "vbo-sim: server is down (fault injection)", "")
		return
	}
	if !found {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("No HTTP resource was found that matches the request URI '%s'.", r.URL.Path), "")
		return
	}
	if !methodOK {
		w.Header().Set("Allow", allow)
		s.writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method), "")
		return
	}
	if fd.delay > 0 {
		t := time.NewTimer(fd.delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if fd.status != 0 {
		if fd.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(fd.retryAfter))
			s.writeError(w, fd.status, "vbo-sim: too many requests (fault injection)", "")
			return
		}
		s.writeError(w, fd.status, fmt.Sprintf("vbo-sim: injected %d %s", fd.status, http.StatusText(fd.status)), "")
		return
	}
	if fd.redirectTo != "" {
		redirect(w, r, fd.redirectTo)
		return
	}
	if rt == rToken {
		s.serveToken(w, r)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		s.writeError(w, http.StatusUnauthorized, "Authorization has been denied for this request.", "")
		return
	}
	q := lowerQuery(r.URL.Query())
	s.reapIdle()
	if rt >= rRestoreBase {
		rr := restoreRoutes[rt-rRestoreBase]
		call := &rcall{s: s, w: w, r: r, q: q, params: params, route: rr}
		if fd.stall > 0 {
			serveStalled(w, r, fd.stall, func(w http.ResponseWriter) { call.w = w; rr.h(call) })
			return
		}
		rr.h(call)
		return
	}
	if fd.oversized > 0 && (rt == rOrgs || rt == rSessions || rt == rEvents || rt == rChanges) {
		serveOversized(w, fd.oversized, rt == rOrgs && s.ver != "v8", q["limit"])
		return
	}
	if fd.stall > 0 {
		serveStalled(w, r, fd.stall, func(w http.ResponseWriter) { s.serveRoute(r.Context(), w, rt, q, params) })
		return
	}
	s.serveRoute(r.Context(), w, rt, q, params)
}

// serveRoute answers an authorised VBO route; ctx ends when the client goes.
func (s *Server) serveRoute(ctx context.Context, w http.ResponseWriter, rt routeID, q map[string]string, params []string) {
	switch rt {
	case rChanges:
		s.serveChanges(ctx, w, q)
	case rOrgs:
		s.serveOrgs(w, q)
	case rOrg:
		s.serveOrg(w, q, params[0])
	case rSessions:
		s.serveSessions(w, q)
	case rSession:
		s.serveSession(w, params[0])
	case rEvents:
		s.serveEvents(w, q, params[0])
	case rEvent:
		s.serveEvent(w, params[0], params[1])
	}
}

// lowerQuery makes query parameter names case-insensitive (ASP.NET binds them that way).
func lowerQuery(v url.Values) map[string]string {
	m := make(map[string]string, len(v))
	for k, vs := range v {
		lk := strings.ToLower(k)
		if _, ok := m[lk]; !ok && len(vs) > 0 {
			m[lk] = vs[0]
		}
	}
	return m
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"message":"encoding failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// writeError writes a RESTExceptionInfo body. errorCode is only emitted for v8 (v7's enum only
// knows ProxyOffline).
func (s *Server) writeError(w http.ResponseWriter, status int, msg, errorCode string) {
	e := upstream.ExceptionInfo{Message: msg}
	if s.ver == "v8" {
		e.ErrorCode = errorCode
	}
	s.writeJSON(w, status, e)
}

func (s *Server) badRequest(w http.ResponseWriter, msg string) {
	s.writeError(w, http.StatusBadRequest, msg, "ParameterValidationFailure")
}

func (s *Server) notFound(w http.ResponseWriter, msg string) {
	s.writeError(w, http.StatusNotFound, msg, "ResourceNotFound")
}

// ---- token ----

type refreshEntry struct {
	user string
	exp  time.Time
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

var b64 = base64.RawURLEncoding

type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	form := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_request", ErrorDescription: "unreadable body"})
		return
	}
	if ct == "application/json" || strings.HasSuffix(ct, "+json") {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			s.writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_request", ErrorDescription: "malformed JSON body"})
			return
		}
		for k, v := range m {
			if v != nil {
				form[strings.ToLower(k)] = fmt.Sprint(v)
			}
		}
	} else {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			s.writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_request", ErrorDescription: "malformed form body"})
			return
		}
		for k, v := range vals {
			if len(v) > 0 {
				form[strings.ToLower(k)] = v[0]
			}
		}
	}
	// disable_antiforgery_token (v7/v8) is accepted and has no effect: the simulator never
	// issues antiforgery cookies.
	now := s.clock()
	switch form["grant_type"] {
	case "password":
		if !strings.EqualFold(form["username"], s.opts.Username) || form["password"] != s.opts.Password {
			s.writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_grant", ErrorDescription: "The user name or password is incorrect."})
			return
		}
		s.issue(w, form["username"], now)
	case "refresh_token":
		rt := form["refresh_token"]
		s.tokMu.Lock()
		e, ok := s.refresh[rt]
		s.tokMu.Unlock()
		if rt == "" || !ok || !now.Before(e.exp) {
			s.writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_grant", ErrorDescription: "The refresh token is invalid or expired."})
			return
		}
		s.issue(w, e.user, now)
	default:
		s.writeJSON(w, http.StatusBadRequest, oauthError{Error: "unsupported_grant_type"})
	}
}

func (s *Server) issue(w http.ResponseWriter, user string, now time.Time) {
	now = now.UTC()
	exp := now.Add(s.opts.TokenLifetime)
	hdr := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"unique_name": user, "iss": "vbo-sim", "aud": s.ver, "jti": b64.EncodeToString(randomBytes(9)),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": exp.Unix(), "exp_ns": exp.UnixNano(),
	})
	unsigned := hdr + "." + b64.EncodeToString(claims)
	access := unsigned + "." + b64.EncodeToString(s.sign(unsigned))
	refresh := b64.EncodeToString(randomBytes(32))
	s.tokMu.Lock()
	if len(s.refresh) > 4096 {
		for k, e := range s.refresh {
			if !now.Before(e.exp) {
				delete(s.refresh, k)
			}
		}
	}
	s.refresh[refresh] = refreshEntry{user: user, exp: now.Add(s.opts.RefreshTokenLifetime)}
	s.tokMu.Unlock()
	s.writeJSON(w, http.StatusOK, upstream.Token{
		AccessToken: access, RefreshToken: refresh, TokenType: "bearer",
		ExpiresIn: int64(s.opts.TokenLifetime / time.Second), UserName: user,
		// The OpenAPI schema says format date-time and kin-openapi enforces RFC 3339, so RFC 3339
		// UTC is used rather than OWIN's RFC 1123 text.
		Issued: now.Format(time.RFC3339), Expires: exp.Format(time.RFC3339),
	})
}

func (s *Server) sign(x string) []byte {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte(x))
	return m.Sum(nil)
}

// authorized checks a Bearer token issued by this server and not yet expired (Clock()).
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.sign(parts[0]+"."+parts[1])) {
		return false
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		ExpNS int64 `json:"exp_ns"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return false
	}
	return s.clock().UnixNano() < c.ExpNS
}

// ---- query parsing ----

func parsePaging(w http.ResponseWriter, s *Server, q map[string]string) (limit, offset int, ok bool) {
	limit, offset = 30, 0
	if v, has := q["limit"]; has {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for limit. It must be an integer between 1 and 10000.", v))
			return 0, 0, false
		}
		limit = n
	}
	if v, has := q["offset"]; has {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for offset. It must be a non-negative integer.", v))
			return 0, 0, false
		}
		offset = n
	}
	return limit, offset, true
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02",
}

// parseTime accepts RFC 3339 / ISO 8601 date-times; values without a zone are UTC.
func parseTime(v string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// pageLinks builds the envelope _links: self always, next only when there is a next page.
func pageLinks(base string, extra [][2]string, offset, limit int, hasNext bool) upstream.Links {
	mk := func(off int) string {
		v := "offset=" + strconv.Itoa(off) + "&limit=" + strconv.Itoa(limit)
		for _, kv := range extra {
			v += "&" + kv[0] + "=" + url.QueryEscape(kv[1])
		}
		return base + "?" + v
	}
	l := upstream.Links{"self": {Href: mk(offset)}}
	if hasNext {
		l["next"] = upstream.Link{Href: mk(offset + limit)}
	}
	return l
}

func (s *Server) setID(key string) string {
	var id [16]byte
	h := hashString(strings.ToLower(key))
	id[0] = byte(h)
	return uuidString(uuidFrom(s.rngFor(saltSetID, id, h)))
}

// ---- handlers ----

func (s *Server) serveOrgs(w http.ResponseWriter, q map[string]string) {
	extended := s.ver == "v6" // v6 default true; v7/v8 default false
	if v, has := q["extendedview"]; has {
		b, ok := parseBool(v)
		if !ok {
			s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for extendedView.", v))
			return
		}
		extended = b
	}
	if s.ver != "v8" {
		out := make([]upstream.Organization, len(s.orgs))
		for i := range s.orgs {
			out[i] = s.orgJSON(i, extended)
		}
		s.writeJSON(w, http.StatusOK, out)
		return
	}
	limit, offset, ok := parsePaging(w, s, q)
	if !ok {
		return
	}
	lo := min(offset, len(s.orgs))
	hi := min(lo+limit, len(s.orgs))
	res := make([]upstream.Organization, 0, hi-lo)
	for i := lo; i < hi; i++ {
		res = append(res, s.orgJSON(i, extended))
	}
	var extra [][2]string
	if v, has := q["extendedview"]; has {
		extra = append(extra, [2]string{"extendedView", v})
	}
	s.writeJSON(w, http.StatusOK, upstream.Page[upstream.Organization]{
		Offset: offset, Limit: limit, SetID: s.setID("orgs"), Results: res,
		Links: pageLinks("/"+s.ver+"/Organizations", extra, offset, limit, hi < len(s.orgs)),
	})
}

func (s *Server) serveOrg(w http.ResponseWriter, q map[string]string, id string) {
	u, ok := parseUUID(id)
	if !ok {
		s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for organizationId.", id))
		return
	}
	extended := s.ver == "v6"
	if v, has := q["extendedview"]; has {
		b, ok := parseBool(v)
		if !ok {
			s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for extendedView.", v))
			return
		}
		extended = b
	}
	i, ok := s.orgByID[u]
	if !ok {
		s.notFound(w, fmt.Sprintf("Organization with ID '%s' was not found.", id))
		return
	}
	s.writeJSON(w, http.StatusOK, s.orgJSON(i, extended))
}

func (s *Server) serveSessions(w http.ResponseWriter, q map[string]string) {
	limit, offset, ok := parsePaging(w, s, q)
	if !ok {
		return
	}
	var from, to time.Time
	var extra [][2]string
	if v, has := q["starttimefrom"]; has {
		if from, ok = parseTime(v); !ok {
			s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for startTimeFrom.", v))
			return
		}
		extra = append(extra, [2]string{"startTimeFrom", v})
	}
	if v, has := q["starttimeto"]; has {
		if to, ok = parseTime(v); !ok {
			s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for startTimeTo.", v))
			return
		}
		extra = append(extra, [2]string{"startTimeTo", v})
	}
	s.mu.RLock()
	n := len(s.order)
	// order is newest first: [lo, hi) holds from <= creationTime < to
	lo, hi := 0, n
	if !to.IsZero() {
		t := to.UnixNano()
		lo = sort.Search(n, func(k int) bool { return s.all[s.order[k]].created < t })
	}
	if !from.IsZero() {
		f := from.UnixNano()
		hi = sort.Search(n, func(k int) bool { return s.all[s.order[k]].created < f })
	}
	if hi < lo {
		hi = lo
	}
	total := hi - lo
	start := min(lo+offset, hi)
	end := min(start+limit, hi)
	res := make([]upstream.RestoreSession, 0, end-start)
	for k := start; k < end; k++ {
		res = append(res, s.sessionJSON(s.order[k]))
	}
	s.mu.RUnlock()
	page := upstream.Page[upstream.RestoreSession]{
		Offset: offset, Limit: limit, SetID: s.setID(fmt.Sprint("sessions", extra)), Results: res,
		Links: pageLinks("/"+s.ver+"/RestoreSessions", extra, offset, limit, end < hi),
	}
	if s.ver != "v8" {
		page.TotalCount = &total
	}
	s.writeJSON(w, http.StatusOK, page)
}

func (s *Server) lookupSession(w http.ResponseWriter, id string) (int32, bool) {
	u, ok := parseUUID(id)
	if !ok {
		s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for restoreSessionId.", id))
		return 0, false
	}
	i, ok := s.findSession(u)
	if !ok {
		s.notFound(w, fmt.Sprintf("Restore session with ID '%s' was not found.", id))
		return 0, false
	}
	return i, true
}

func (s *Server) serveSession(w http.ResponseWriter, id string) {
	s.mu.RLock()
	i, ok := s.lookupSession(w, id)
	if !ok {
		s.mu.RUnlock()
		return
	}
	rs := s.sessionJSON(i)
	s.mu.RUnlock()
	s.writeJSON(w, http.StatusOK, rs)
}

func (s *Server) serveEvents(w http.ResponseWriter, q map[string]string, id string) {
	limit, offset, ok := parsePaging(w, s, q)
	if !ok {
		return
	}
	s.mu.RLock()
	i, ok := s.lookupSession(w, id)
	if !ok {
		s.mu.RUnlock()
		return
	}
	ec := s.eventContext(i)
	total := s.eventCount(i, &ec)
	start := min(offset, total)
	end := min(start+limit, total)
	res := make([]upstream.RestoreSessionEvent, 0, end-start)
	for k := start; k < end; k++ {
		res = append(res, s.eventJSON(i, &ec, k))
	}
	sid := uuidString(ec.c.id)
	s.mu.RUnlock()
	page := upstream.Page[upstream.RestoreSessionEvent]{
		Offset: offset, Limit: limit, SetID: s.setID("events" + sid), Results: res,
		Links: pageLinks("/"+s.ver+"/RestoreSessions/"+sid+"/Events", nil, offset, limit, end < total),
	}
	if s.ver != "v8" {
		page.TotalCount = &total
	}
	s.writeJSON(w, http.StatusOK, page)
}

func (s *Server) serveEvent(w http.ResponseWriter, id, eid string) {
	eu, ok := parseUUID(eid)
	if !ok {
		s.badRequest(w, fmt.Sprintf("The value '%s' is not valid for eventId.", eid))
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.lookupSession(w, id)
	if !ok {
		return
	}
	ec := s.eventContext(i)
	k, found := s.findEvent(i, &ec, eu)
	if !found {
		s.notFound(w, fmt.Sprintf("Restore session event with ID '%s' was not found.", eid))
		return
	}
	s.writeJSON(w, http.StatusOK, s.eventJSON(i, &ec, k))
}

// findEvent scans the session's event ids (cheap hashes; events are never stored).
func (s *Server) findEvent(i int32, ec *eventCtx, id [16]byte) (int, bool) {
	want := uuidString(id)
	total := s.eventCount(i, ec)
	ls := s.live[i]
	for k := 0; k < total; k++ {
		var got string
		switch {
		case ls != nil && ls.sess != nil && (k == 0 || k > ec.n):
			if k == 0 {
				got = ls.events[0].ID
			} else {
				got = ls.events[k-ec.n].ID
			}
		case ls != nil && ls.sess == nil && k >= ec.n:
			got = ls.events[k-ec.n].ID
		default:
			got = uuidString(eventID(s, ec.c.id, k))
		}
		if got == want {
			return k, true
		}
	}
	return 0, false
}
