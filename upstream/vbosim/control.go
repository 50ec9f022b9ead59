package vbosim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// serveSim handles the /_sim control endpoints. They need no token, are not counted and are
// not subject to faults:
//
//	GET    /_sim/stats                          call counters
//	DELETE /_sim/stats                          reset counters
//	GET    /_sim/faults                         current fault config (durations as "250ms")
//	PUT    /_sim/faults                         replace fault config
//	DELETE /_sim/faults                         clear faults
//	POST   /_sim/sessions                       AddSession (body: RESTRestoreSession fields)
//	POST   /_sim/sessions/{id}/events           AddEvent (body: RESTRestoreSessionEvent fields)
//	POST   /_sim/sessions/{id}/stop?result=X    StopSession
//	POST   /_sim/sessions/{id}/large?events=N   SetLargeSession
//	DELETE /_sim/sessions/{id}                  DeleteSession (v8: a RestoreSessionDelete change)
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(strings.ToLower(r.URL.Path), "/"), "/")[1:]
	switch {
	case len(segs) == 1 && segs[0] == "stats":
		s.serveSimStats(w, r)
	case len(segs) == 1 && segs[0] == "faults":
		s.serveSimFaults(w, r)
	case len(segs) == 1 && segs[0] == "sessions":
		s.serveSimAddSession(w, r)
	case len(segs) == 2 && segs[0] == "sessions":
		s.serveSimDeleteSession(w, r, segs[1])
	case len(segs) == 3 && segs[0] == "sessions":
		s.serveSimSessionAction(w, r, segs[1], segs[2])
	default:
		s.simUnknownEndpoint(w)
	}
}

// maxControlBody bounds the JSON body a /_sim endpoint reads.
const maxControlBody = 1 << 20

// decodeControlBody decodes r's JSON body (at most maxControlBody bytes) into v. An empty body
// is io.EOF, which callers that accept one ignore.
func decodeControlBody(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, maxControlBody)).Decode(v)
}

// simMethodAllowed reports whether r's method is one of allowed; if not it answers 405 with
// an Allow header listing them.
func (s *Server) simMethodAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	if slices.Contains(allowed, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeJSON(w, http.StatusMethodNotAllowed, upstream.ExceptionInfo{Message: "method not allowed"})
	return false
}

func (s *Server) simBadRequest(w http.ResponseWriter, msg string) {
	s.writeJSON(w, http.StatusBadRequest, upstream.ExceptionInfo{Message: msg})
}

func (s *Server) simUnknownEndpoint(w http.ResponseWriter) {
	s.writeJSON(w, http.StatusNotFound, upstream.ExceptionInfo{Message: "unknown /_sim endpoint"})
}

// serveSimStats: GET /_sim/stats answers the call counters, DELETE resets them first.
func (s *Server) serveSimStats(w http.ResponseWriter, r *http.Request) {
	if !s.simMethodAllowed(w, r, http.MethodGet, http.MethodDelete) {
		return
	}
	if r.Method == http.MethodDelete {
		s.ResetStats()
	}
	s.writeJSON(w, http.StatusOK, s.Stats())
}

// serveSimFaults: GET /_sim/faults answers the fault config, PUT replaces it, DELETE clears
// it; each answers the config now in force.
func (s *Server) serveSimFaults(w http.ResponseWriter, r *http.Request) {
	if !s.simMethodAllowed(w, r, http.MethodGet, http.MethodPut, http.MethodDelete) {
		return
	}
	switch r.Method {
	case http.MethodPut:
		var f Faults
		if err := decodeControlBody(r, &f); err != nil {
			s.simBadRequest(w, "invalid faults JSON: "+err.Error())
			return
		}
		s.SetFaults(f)
	case http.MethodDelete:
		s.SetFaults(Faults{})
	}
	s.writeJSON(w, http.StatusOK, s.CurrentFaults())
}

// serveSimAddSession: POST /_sim/sessions adds the session in the body (empty: all defaults).
func (s *Server) serveSimAddSession(w http.ResponseWriter, r *http.Request) {
	if !s.simMethodAllowed(w, r, http.MethodPost) {
		return
	}
	var rs upstream.RestoreSession
	if err := decodeControlBody(r, &rs); err != nil && !errors.Is(err, io.EOF) {
		s.simBadRequest(w, "invalid session JSON: "+err.Error())
		return
	}
	s.writeJSON(w, http.StatusCreated, s.AddSession(rs))
}

// serveSimDeleteSession: DELETE /_sim/sessions/{id}.
func (s *Server) serveSimDeleteSession(w http.ResponseWriter, r *http.Request, id string) {
	if !s.simMethodAllowed(w, r, http.MethodDelete) {
		return
	}
	if err := s.DeleteSession(id); err != nil {
		s.simErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveSimSessionAction: POST /_sim/sessions/{id}/{events|stop|large}. The method is checked
// before the action, so an unknown action with another method answers 405.
func (s *Server) serveSimSessionAction(w http.ResponseWriter, r *http.Request, id, action string) {
	if !s.simMethodAllowed(w, r, http.MethodPost) {
		return
	}
	switch action {
	case "events":
		s.serveSimAddEvent(w, r, id)
	case "stop":
		s.serveSimStopSession(w, r, id)
	case "large":
		s.serveSimLargeSession(w, r, id)
	default:
		s.simUnknownEndpoint(w)
	}
}

// serveSimAddEvent: POST /_sim/sessions/{id}/events adds the event in the body (empty: all
// defaults). A malformed body is refused before the session is looked up.
func (s *Server) serveSimAddEvent(w http.ResponseWriter, r *http.Request, id string) {
	var ev upstream.RestoreSessionEvent
	if err := decodeControlBody(r, &ev); err != nil && !errors.Is(err, io.EOF) {
		s.simBadRequest(w, "invalid event JSON: "+err.Error())
		return
	}
	out, err := s.AddEvent(id, ev)
	if err != nil {
		s.simErr(w, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, out)
}

// serveSimStopSession: POST /_sim/sessions/{id}/stop?result=X stops a Working session and
// answers it.
func (s *Server) serveSimStopSession(w http.ResponseWriter, r *http.Request, id string) {
	if err := s.StopSession(id, upstream.RestoreSessionResult(r.URL.Query().Get("result"))); err != nil {
		s.simErr(w, err)
		return
	}
	rs, _ := s.Session(id)
	s.writeJSON(w, http.StatusOK, rs)
}

// serveSimLargeSession: POST /_sim/sessions/{id}/large?events=N gives the session N generated
// events and answers it. N is checked before the session is looked up.
func (s *Server) serveSimLargeSession(w http.ResponseWriter, r *http.Request, id string) {
	n, err := strconv.Atoi(r.URL.Query().Get("events"))
	if err != nil || n < 1 {
		s.simBadRequest(w, "events must be a positive integer")
		return
	}
	if _, ok := s.Session(id); !ok {
		s.simErr(w, ErrNotFound)
		return
	}
	s.SetLargeSession(id, n)
	rs, _ := s.Session(id)
	s.writeJSON(w, http.StatusOK, rs)
}

func (s *Server) simErr(w http.ResponseWriter, err error) {
	status := http.StatusConflict
	if errors.Is(err, ErrNotFound) {
		status = http.StatusNotFound
	}
	s.writeJSON(w, status, upstream.ExceptionInfo{Message: err.Error()})
}
