package loaders

import (
	"context"
	"sync"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Matcher is a gateway-side session filter (type, state, result, initiatedBy, clientHost,
// scope...). A nil *Matcher or nil Fn matches everything.
type Matcher struct {
	Fn func(server string, s *upstream.RestoreSession) bool
}

func (m *Matcher) match(server string, s *upstream.RestoreSession) bool {
	return m == nil || m.Fn == nil || m.Fn(server, s)
}

// OrgSessionsKey asks for up to Need sessions of one organisation (by name, since that is all
// a VBO session records) on one server, newest first, from a stream position.
type OrgSessionsKey struct {
	Server  string
	OrgName string
	window  windowKey
	pos     posKey
	Need    int
	Match   *Matcher
}

// NewOrgSessionsKey builds a key; after is the position to continue from (nil = the top).
func NewOrgSessionsKey(server, orgName string, w Window, after *gid.Position, need int, m *Matcher) OrgSessionsKey {
	return OrgSessionsKey{Server: server, OrgName: orgName, window: w.key(), pos: keyOf(after), Need: need, Match: m}
}

// SessionPage is a slice of a session stream.
type SessionPage struct {
	Sessions []upstream.RestoreSession
	// After[i] is the stream position just after Sessions[i]: the cursor of that edge.
	After []gid.Position
	// Total is the number of matching sessions in the whole listing, when the walk saw all of
	// it from the top; nil otherwise.
	Total *int
	// Resume is set when the walk paused at its scan budget before finding all it needed: the
	// page ends early, more may follow, and the next page continues from this position.
	Resume *gid.Position
}

// OrgRestoreSessions loads one organisation's sessions. All keys of one server with the same
// window and start position share a single walk of that server's listing.
func (l *Loaders) OrgRestoreSessions(ctx context.Context, k OrgSessionsKey) (*SessionPage, error) {
	return l.orgSessions.Load(ctx, k)()
}

type walkGroup struct {
	server string
	window windowKey
	pos    posKey
}

func (l *Loaders) batchOrgSessions(ctx context.Context, keys []OrgSessionsKey) []*dataloader.Result[*SessionPage] {
	groups := map[walkGroup][]int{}
	for i, k := range keys {
		g := walkGroup{k.Server, k.window, k.pos}
		groups[g] = append(groups[g], i)
	}
	results := make([]*dataloader.Result[*SessionPage], len(keys))
	var wg sync.WaitGroup
	for g, idx := range groups {
		goRecover(&wg, func() {
			pages, err := l.walkOrgs(ctx, g, keys, idx)
			for j, i := range idx {
				results[i] = &dataloader.Result[*SessionPage]{Data: pages[j], Error: err}
			}
		}, func(err error) {
			for _, i := range idx {
				results[i] = &dataloader.Result[*SessionPage]{Error: err}
			}
		})
	}
	wg.Wait()
	return results
}

// walkOrgs walks one server's listing once, dealing sessions to the organisations that asked,
// until each has what it needs or the listing ends.
func (l *Loaders) walkOrgs(ctx context.Context, g walkGroup, keys []OrgSessionsKey, idx []int) ([]*SessionPage, error) {
	if _, err := l.client(g.server); err != nil {
		return make([]*SessionPage, len(idx)), err
	}
	pages := make([]*SessionPage, len(idx))
	counts := make([]int, len(idx))
	byName := map[string][]int{}
	for j, i := range idx {
		pages[j] = &SessionPage{}
		name := upstream.OrgNameKey(keys[i].OrgName) // as sessions are joined to organisations (upstream.OrgJoin)
		byName[name] = append(byName[name], j)
	}
	unsatisfied := 0
	for _, i := range idx {
		if keys[i].Need > 0 {
			unsatisfied++
		}
	}
	w := g.window.window()
	s := l.newStream(g.server, w, g.pos.position(), l.walkFirstPage(w), l.b.cfg.PageSize)
	for unsatisfied > 0 {
		h, err := s.head(ctx)
		if err != nil {
			return pages, err
		}
		if h == nil {
			break
		}
		sess, after := s.pop()
		for _, j := range byName[upstream.OrgNameKey(sess.Organization)] {
			k := keys[idx[j]]
			if !k.Match.match(g.server, &sess) {
				continue
			}
			counts[j]++
			if len(pages[j].Sessions) < k.Need {
				pages[j].Sessions = append(pages[j].Sessions, sess)
				pages[j].After = append(pages[j].After, after)
				if len(pages[j].Sessions) == k.Need {
					unsatisfied--
				}
			}
		}
	}
	if s.paused {
		resume := s.position()
		for j, i := range idx {
			if len(pages[j].Sessions) < keys[i].Need {
				pages[j].Resume = &resume
			}
		}
	}
	if s.position().Done && !g.pos.set {
		for j := range pages {
			n := counts[j]
			pages[j].Total = &n
		}
	}
	return pages, nil
}
