package model

import (
	"sync"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

// The connection edges are written here rather than generated so that their cursors are sealed
// only when a client selects them: most queries never do, and sealing costs a random nonce and
// an AEAD pass per edge (and four allocations). A cursor, once sealed, stays the same string:
// sealing again would give another one, and pageInfo's start and end cursors are their edges'
// own (the resolvers read them through Cursor).

// cursor is an edge's position, sealed on first use: an offset, a stream position, or one
// server's position (server != "", for a single server's stream; its map is made only when
// sealed).
type cursor struct {
	once     sync.Once
	text     string
	sealer   *gid.Cursors
	isStream bool
	stream   gid.StreamCursor
	server   string
	pos      gid.Position
	offset   int
	// kind and key: a keyset position in a list the gateway keeps (gid.Cursors.EncodeKeyset).
	kind, key string
}

func (c *cursor) String() string {
	c.once.Do(func() {
		switch {
		case c.kind != "":
			c.text = c.sealer.EncodeKeyset(c.kind, c.key)
		case c.server != "":
			c.text = c.sealer.EncodeStream(gid.StreamCursor{c.server: c.pos})
		case c.isStream:
			c.text = c.sealer.EncodeStream(c.stream)
		default:
			c.text = c.sealer.EncodeOffset(c.offset)
		}
		c.sealer, c.stream = nil, nil
	})
	return c.text
}

// OrganizationEdge is one organisation on a page.
type OrganizationEdge struct {
	// Node is the organisation.
	Node *Organization
	at   cursor
}

// NewOrganizationEdge makes the edge of the organisation at offset-1 in its list (its cursor
// is offset: the number of organisations up to and including it).
func NewOrganizationEdge(node *Organization, sealer *gid.Cursors, offset int) *OrganizationEdge {
	return &OrganizationEdge{Node: node, at: cursor{sealer: sealer, offset: offset}}
}

// Cursor is the opaque cursor for `after`.
func (e *OrganizationEdge) Cursor() string { return e.at.String() }

// RestoreSessionEdge is one restore session on a page.
type RestoreSessionEdge struct {
	// Node is the session.
	Node *RestoreSession
	at   cursor
}

// NewRestoreSessionEdge makes the edge of a session whose cursor is the stream position after
// it (pos must not change afterwards).
func NewRestoreSessionEdge(node *RestoreSession, sealer *gid.Cursors, pos gid.StreamCursor) *RestoreSessionEdge {
	return &RestoreSessionEdge{Node: node, at: cursor{sealer: sealer, isStream: true, stream: pos}}
}

// NewServerSessionEdge makes the edge of a session of one server's stream whose cursor is the
// server's position after it.
func NewServerSessionEdge(node *RestoreSession, sealer *gid.Cursors, server string, pos gid.Position) *RestoreSessionEdge {
	return &RestoreSessionEdge{Node: node, at: cursor{sealer: sealer, server: server, pos: pos}}
}

// NewKeysetSessionEdge makes the edge of a session read from a list the gateway keeps (the
// restore watch's archive): its cursor is the list's keyset position key of list kind.
func NewKeysetSessionEdge(node *RestoreSession, sealer *gid.Cursors, kind, key string) *RestoreSessionEdge {
	return &RestoreSessionEdge{Node: node, at: cursor{sealer: sealer, kind: kind, key: key}}
}

// Cursor is the opaque cursor for `after`.
func (e *RestoreSessionEdge) Cursor() string { return e.at.String() }

// RestoreEventEdge is one event on a page.
type RestoreEventEdge struct {
	// Node is the event.
	Node *RestoreEvent
	at   cursor
}

// NewRestoreEventEdge makes the edge of the event at offset-1 among the matching events (its
// cursor is offset).
func NewRestoreEventEdge(node *RestoreEvent, sealer *gid.Cursors, offset int) *RestoreEventEdge {
	return &RestoreEventEdge{Node: node, at: cursor{sealer: sealer, offset: offset}}
}

// Cursor is the opaque cursor for `after`.
func (e *RestoreEventEdge) Cursor() string { return e.at.String() }
