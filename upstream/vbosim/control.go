package vbosim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
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
	p := strings.Trim(strings.ToLower(r.URL.Path), "/")
	segs := strings.Split(p, "/")[1:]
	bad := func(msg string) { s.writeJSON(w, http.StatusBadRequest, upstream.ExceptionInfo{Message: msg}) }
	method := func(allowed ...string) bool {
		for _, m := range allowed {
			if r.Method == m {
				return true
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeJSON(w, http.StatusMethodNotAllowed, upstream.ExceptionInfo{Message: "method not allowed"})
		return false
	}
	switch {
	case len(segs) == 1 && segs[0] == "stats":
		if !method(http.MethodGet, http.MethodDelete) {
			return
		}
		if r.Method == http.MethodDelete {
			s.ResetStats()
		}
		s.writeJSON(w, http.StatusOK, s.Stats())
	case len(segs) == 1 && segs[0] == "faults":
		if !method(http.MethodGet, http.MethodPut, http.MethodDelete) {
			return
		}
		switch r.Method {
		case http.MethodPut:
			var f Faults
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&f); err != nil {
				bad("invalid faults JSON: " + err.Error())
				return
			}
			s.SetFaults(f)
		case http.MethodDelete:
			s.SetFaults(Faults{})
		}
		s.writeJSON(w, http.StatusOK, s.CurrentFaults())
	case len(segs) == 1 && segs[0] == "sessions":
		if !method(http.MethodPost) {
			return
		}
		var rs upstream.RestoreSession
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&rs); err != nil && !errors.Is(err, io.EOF) {
			bad("invalid session JSON: " + err.Error())
			return
		}
		s.writeJSON(w, http.StatusCreated, s.AddSession(rs))
	case len(segs) == 2 && segs[0] == "sessions":
		if !method(http.MethodDelete) {
			return
		}
		if err := s.DeleteSession(segs[1]); err != nil {
			s.simErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(segs) == 3 && segs[0] == "sessions":
		if !method(http.MethodPost) {
			return
		}
		id := segs[1]
		switch segs[2] {
		case "events":
			var ev upstream.RestoreSessionEvent
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev); err != nil && !errors.Is(err, io.EOF) {
				bad("invalid event JSON: " + err.Error())
				return
			}
			out, err := s.AddEvent(id, ev)
			if err != nil {
				s.simErr(w, err)
				return
			}
			s.writeJSON(w, http.StatusCreated, out)
		case "stop":
			if err := s.StopSession(id, upstream.RestoreSessionResult(r.URL.Query().Get("result"))); err != nil {
				s.simErr(w, err)
				return
			}
			rs, _ := s.Session(id)
			s.writeJSON(w, http.StatusOK, rs)
		case "large":
			n, err := strconv.Atoi(r.URL.Query().Get("events"))
			if err != nil || n < 1 {
				bad("events must be a positive integer")
				return
			}
			if _, ok := s.Session(id); !ok {
				s.simErr(w, ErrNotFound)
				return
			}
			s.SetLargeSession(id, n)
			rs, _ := s.Session(id)
			s.writeJSON(w, http.StatusOK, rs)
		default:
			s.writeJSON(w, http.StatusNotFound, upstream.ExceptionInfo{Message: "unknown /_sim endpoint"})
		}
	default:
		s.writeJSON(w, http.StatusNotFound, upstream.ExceptionInfo{Message: "unknown /_sim endpoint"})
	}
}

func (s *Server) simErr(w http.ResponseWriter, err error) {
	status := http.StatusConflict
	if errors.Is(err, ErrNotFound) {
		status = http.StatusNotFound
	}
	s.writeJSON(w, status, upstream.ExceptionInfo{Message: err.Error()})
}
