package upstream

import (
	"fmt"
	"slices"
)

// Fleet is the named set of VBO servers behind the gateway, in configuration order.
type Fleet struct {
	names   []string
	clients map[string]*Client
}

// NewFleet builds a fleet from clients; each needs a unique, non-empty name (ClientOptions.Name).
func NewFleet(clients ...*Client) (*Fleet, error) {
	f := &Fleet{clients: make(map[string]*Client, len(clients))}
	for _, c := range clients {
		if c == nil || c.name == "" {
			return nil, fmt.Errorf("fleet: every server needs a name")
		}
		if _, dup := f.clients[c.name]; dup {
			return nil, fmt.Errorf("fleet: duplicate server name %q", c.name)
		}
		f.names = append(f.names, c.name)
		f.clients[c.name] = c
	}
	return f, nil
}

// Get returns the client for a server name.
func (f *Fleet) Get(name string) (*Client, bool) {
	c, ok := f.clients[name]
	return c, ok
}

// Names returns the server names in configuration order.
func (f *Fleet) Names() []string { return slices.Clone(f.names) }

// Clients returns the clients in configuration order.
func (f *Fleet) Clients() []*Client {
	out := make([]*Client, len(f.names))
	for i, n := range f.names {
		out[i] = f.clients[n]
	}
	return out
}

// Len is the number of servers.
func (f *Fleet) Len() int { return len(f.names) }
