package health

import (
	"fmt"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// ArchiveState is the restore audit archive's writability as its store last found it (app
// adapts store.WriteState).
type ArchiveState struct {
	Driver   string // sqlite or postgres
	Writable bool
	Since    time.Time // when it became unwritable (zero while writable)
	Cause    string    // the unavailability's class: connection, disk_full, io, read_only...
}

// archiveReadiness is the archive's part of the /readyz body.
type archiveReadiness struct {
	Driver          string     `json:"driver"`
	Writable        bool       `json:"writable"`
	UnwritableSince *time.Time `json:"unwritableSince,omitempty"`
	Cause           string     `json:"cause,omitempty"`
	// Ready is false once it has been unwritable for longer than the configured bound.
	Ready   bool   `json:"ready"`
	Message string `json:"message,omitempty"`
}

// archiveReady reports the archive's readiness (nil without an archive): not ready once it
// has been unwritable for longer than the bound.
func (m *Monitor) archiveReady(now time.Time) *archiveReadiness {
	if m.opts.Archive == nil {
		return nil
	}
	st := m.opts.Archive()
	a := &archiveReadiness{Driver: st.Driver, Writable: st.Writable, Ready: true}
	if st.Writable {
		return a
	}
	since := st.Since.UTC()
	a.UnwritableSince, a.Cause = &since, st.Cause
	bound := m.opts.ArchiveUnwritableAfter
	if bound <= 0 {
		bound = config.DefaultUnwritableAfter // watch.unwritableAfter's default
	}
	unwritable := now.Sub(st.Since).Round(time.Second)
	if now.Sub(st.Since) > bound {
		a.Ready = false
		a.Message = fmt.Sprintf("the restore audit archive (%s) has not been writable for %v (cause: %s; bound %v): "+
			"the watch cannot record restore sessions; reads from the VBO servers keep working", st.Driver, unwritable, st.Cause, bound)
	} else {
		a.Message = fmt.Sprintf("the restore audit archive (%s) has not been writable for %v (cause: %s); "+
			"not ready after %v; reads from the VBO servers keep working", st.Driver, unwritable, st.Cause, bound)
	}
	return a
}
