package vbosim

import (
	"fmt"
	"strings"
)

// RenameOrganization gives organisation id a new name, as VBO shows an organisation renamed: its
// listing entry and its sessions (which name their organisation by its current name here) carry
// the new name from then on. For tests that give organisations colliding names, such as a case
// variant of another's; call it before the server handles requests (organisations are read
// without locking).
func (s *Server) RenameOrganization(id, name string) error {
	for i := range s.orgs {
		if strings.EqualFold(s.orgs[i].ID, id) {
			s.orgs[i].Name = name
			return nil
		}
	}
	return fmt.Errorf("vbosim: no organization %q", id)
}
