package console

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

const sessionsQuery = `query ConsoleSessions($first: Int!, $after: String, $filter: RestoreSessionFilter) {
  viewer { organizations { id name server { name } } }
  servers { name }
  restoreSessions(first: $first, after: $after, filter: $filter) {
    edges { node { id startTime endTime type state result initiatedBy clientHost { raw machineName viaAddress } organization { id name server { name } } } }
    pageInfo { hasNextPage endCursor }
  }
}`

var (
	sessionTypes   = []string{"EXCHANGE", "ONEDRIVE", "SHAREPOINT", "TEAMS"}
	sessionResults = []string{"SUCCESS", "WARNING", "FAILED"}
)

// sessionFilter reads the Sessions page's filters into a RestoreSessionFilter.
func sessionFilter(q url.Values, win window) map[string]any {
	from, to := win.vars()
	f := map[string]any{"startTimeFrom": from, "startTimeTo": to}
	list := func(key string, allowed []string) []string {
		var out []string
		for _, v := range q[key] {
			for _, a := range allowed {
				if v == a {
					out = append(out, v)
				}
			}
		}
		return out
	}
	if v := list("type", sessionTypes); len(v) > 0 {
		f["types"] = v
	}
	if v := list("result", sessionResults); len(v) > 0 {
		f["results"] = v
	}
	if v := strings.TrimSpace(q.Get("org")); v != "" {
		f["organizationIds"] = []string{v}
	}
	if v := strings.TrimSpace(q.Get("server")); v != "" {
		f["servers"] = []string{v}
	}
	if v := strings.TrimSpace(q.Get("person")); v != "" {
		f["initiatedBy"] = v
	}
	if v := strings.TrimSpace(q.Get("machine")); v != "" {
		f["clientHost"] = v
	}
	return f
}

func (s *server) sessions(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	win, err := s.windowOf(r)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, r, "error", pageData{Title: "Sessions", Nav: "sessions", Data: err.Error()})
		return
	}
	q := r.URL.Query()
	vars := map[string]any{"first": 50, "filter": sessionFilter(q, win)}
	if a := q.Get("after"); a != "" {
		vars["after"] = a
	}
	var d struct {
		Viewer struct {
			Organizations []org `json:"organizations"`
		} `json:"viewer"`
		Servers []struct {
			Name string `json:"name"`
		} `json:"servers"`
		RestoreSessions sessionEdges `json:"restoreSessions"`
	}
	notes, err := s.query(r.Context(), sess.view, sessionsQuery, vars, &d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := ""
	if pi := d.RestoreSessions.PageInfo; pi.HasNextPage && pi.EndCursor != nil {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("after", *pi.EndCursor)
		next = nq.Encode()
	}
	csv := url.Values{"from": {win.From.Format(time.RFC3339)}, "to": {win.To.Format(time.RFC3339)}}
	s.render(w, r, "sessions", pageData{Title: "Sessions", Nav: "sessions", Notes: noteList(notes), Data: map[string]any{
		"Q": q, "Window": win, "Windows": windows, "Types": sessionTypes, "Results": sessionResults,
		"Orgs": d.Viewer.Organizations, "Servers": d.Servers, "Rows": d.RestoreSessions.Edges, "Next": next,
		"CSV": csv.Encode(),
	}})
}

const sessionQuery = `query ConsoleSession($id: ID!) {
  restoreSession(id: $id) {
    id upstreamId name type state result startTime endTime initiatedBy reason details scopeName
    clientHost { raw machineName viaAddress }
    organization { id name server { name } }
    attribution {
      throughGateway person displayName tenant reason
      actions(first: 200) {
        edges { node { position kind person displayName role reason summary status upstreamStatus error startTime endTime target } }
        pageInfo { hasNextPage }
      }
    }
    events(first: 500, filter: {itemsOnly: false}) {
      edges { node { order type status title message itemName itemType itemSizeBytes source target startTime endTime } }
    }
  }
}`

func (s *server) session(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	var d struct {
		RestoreSession *struct {
			sessionRow
			Name      string  `json:"name"`
			Reason    *string `json:"reason"`
			Details   *string `json:"details"`
			ScopeName *string `json:"scopeName"`
			Events    struct {
				Edges []struct {
					Node struct {
						Order         int     `json:"order"`
						Type          string  `json:"type"`
						Status        string  `json:"status"`
						Title         *string `json:"title"`
						Message       string  `json:"message"`
						ItemName      *string `json:"itemName"`
						ItemType      *string `json:"itemType"`
						ItemSizeBytes *int64  `json:"itemSizeBytes"`
						Source        *string `json:"source"`
						Target        *string `json:"target"`
						StartTime     string  `json:"startTime"`
						EndTime       *string `json:"endTime"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"events"`
			Attribution attribution `json:"attribution"`
		} `json:"restoreSession"`
	}
	notes, err := s.query(r.Context(), sess.view, sessionQuery, map[string]any{"id": r.PathValue("id")}, &d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.RestoreSession == nil {
		s.fail(w, r, notes)
		return
	}
	s.render(w, r, "session", pageData{Title: "Session", Nav: "sessions", Notes: noteList(notes), Data: d.RestoreSession})
}

// attribution is RestoreSession.attribution as the session page shows it.
type attribution struct {
	ThroughGateway bool    `json:"throughGateway"`
	Person         *string `json:"person"`
	DisplayName    *string `json:"displayName"`
	Tenant         *string `json:"tenant"`
	Reason         *string `json:"reason"`
	Actions        struct {
		Edges []struct {
			Node restoreAction `json:"node"`
		} `json:"edges"`
		PageInfo struct {
			HasNextPage bool `json:"hasNextPage"`
		} `json:"pageInfo"`
	} `json:"actions"`
}

// restoreAction is one recorded step (RestoreAction).
type restoreAction struct {
	ID             string  `json:"id"`
	Position       int64   `json:"position"`
	Kind           string  `json:"kind"`
	Person         string  `json:"person"`
	DisplayName    *string `json:"displayName"`
	Role           string  `json:"role"`
	Reason         *string `json:"reason"`
	Summary        string  `json:"summary"`
	Status         string  `json:"status"`
	UpstreamStatus *int    `json:"upstreamStatus"`
	Error          *string `json:"error"`
	StartTime      string  `json:"startTime"`
	EndTime        *string `json:"endTime"`
	Target         *string `json:"target"`
}

// sessionEventsQuery follows one session's events (the session page of a running session).
const sessionEventsQuery = `subscription ConsoleSessionEvents($id: ID!) {
  restoreEventAdded(sessionId: $id) { order type status title message itemName source startTime }
}`

// sessionStream follows a session's events over the same SSE path as the Live page.
func (s *server) sessionStream(w http.ResponseWriter, r *http.Request) {
	s.stream(w, r, sessionEventsQuery, map[string]any{"id": r.PathValue("id")})
}

// export serves the CSV exports to the session: the gateway's own export handlers, in
// process, with the session's principal (the same scope and limits as /export/...).
func (s *server) export(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if file != "restore-audit.csv" && file != "restore-audit-sessions.csv" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	q.Del("tenant")
	req, err := http.NewRequestWithContext(auth.WithPrincipal(r.Context(), sessionFrom(r.Context()).view), http.MethodGet,
		"/export/"+file+"?"+q.Encode(), nil)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.gql.ServeHTTP(w, req)
}

// liveQueries are the Live page's subscriptions: sessions as the watch archives them starting
// (?feed=started, the default) and ending with their final result (?feed=ended).
var liveQueries = map[string]string{
	"started": `subscription ConsoleLiveStarted {
  restoreSessionStarted { id startTime type state result initiatedBy clientHost { machineName } organization { name server { name } } }
}`,
	"ended": `subscription ConsoleLiveEnded {
  restoreSessionEnded { id startTime type state result initiatedBy clientHost { machineName } organization { name server { name } } }
}`,
}

func (s *server) live(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "live", pageData{Title: "Live", Nav: "live"})
}

// sessionRecheck is how often an open Live stream checks its session again.
const sessionRecheck = 15 * time.Second

// liveStream runs the subscription in process over the gateway's SSE transport and hands
// its events to the browser's EventSource as they come: each carries its feed position as the
// SSE id, and a reconnecting EventSource sends it back as Last-Event-ID, which the transport
// resumes after (nothing missed, nothing twice). The session is checked again every 15 s:
// signed out, or no longer accepted by the configuration, ends the stream.
func (s *server) liveStream(w http.ResponseWriter, r *http.Request) {
	query, ok := liveQueries[cmp.Or(r.URL.Query().Get("feed"), "started")]
	if !ok {
		http.Error(w, "feed: started or ended", http.StatusBadRequest)
		return
	}
	s.stream(w, r, query, nil)
}

// stream runs a subscription in process over the gateway's SSE transport (see liveStream).
func (s *server) stream(w http.ResponseWriter, r *http.Request, query string, vars map[string]any) {
	sess := sessionFrom(r.Context())
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		t := time.NewTicker(sessionRecheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !s.stillValid(r) {
					cancel()
					return
				}
			}
		}
	}()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	req, err := http.NewRequestWithContext(auth.WithPrincipal(ctx, sess.view), http.MethodPost, "/graphql", bytes.NewReader(b))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		req.Header.Set("Last-Event-ID", id)
	}
	s.gql.ServeHTTP(w, req)
}
