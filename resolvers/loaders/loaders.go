package loaders

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// ErrUnknownServer is returned for a server name the gateway does not have.
var ErrUnknownServer = errors.New("unknown VBO server")

// SessionKey names a restore session. Final says the caller already knows the session has
// stopped, so what is fetched for it can be cached for good.
type SessionKey struct {
	Server string
	ID     string
	Final  bool
	// FromServer skips the cache of stopped sessions (see RestoreSessionFromServer).
	FromServer bool
}

// EventKey names one event of a session.
type EventKey struct {
	Server    string
	SessionID string
	EventID   string
}

// Loaders is the per-request set of dataloaders.
type Loaders struct {
	b           *Backend
	orgs        *dataloader.Loader[string, []upstream.Organization]
	orgSessions *dataloader.Loader[OrgSessionsKey, *SessionPage]
	session     *dataloader.Loader[SessionKey, *upstream.RestoreSession]
	event       *dataloader.Loader[EventKey, *upstream.RestoreSessionEvent]
	// pages fetches each listing page (pageQuery.cacheKey) once per request, even when two walks
	// of one server were not batched together; eventsMemo runs each events query once.
	pages      memo[string, *upstream.Page[upstream.RestoreSession]]
	eventsMemo memo[eventsKey, *EventsPage]
	orgJoins   memo[string, upstream.OrgJoin]
	// freshness is where this request's session reads came from (extensions.freshness).
	freshness Freshness
	// archiveCoverage is the archive's coverage, read once per request (ArchiveCoverage).
	archiveCoverage memo[struct{}, any]
	// extra holds per-request values of the resolvers' own (PerRequest), such as the restore
	// attribution loader.
	extraMu sync.Mutex
	extra   map[any]any
}

// PerRequest returns the request's value under key, made by mk on first use (one per
// request, shared by every resolver of it): a loader over a part the backend does not hold,
// such as the restore front door's log. Without loaders in ctx it returns a fresh value.
func PerRequest[T any](ctx context.Context, key any, mk func() T) T {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		return mk()
	}
	return perRequest(l, key, mk)
}

// perRequest is PerRequest on l.
func perRequest[T any](l *Loaders, key any, mk func() T) T {
	l.extraMu.Lock()
	defer l.extraMu.Unlock()
	if v, ok := l.extra[key].(T); ok {
		return v
	}
	v := mk()
	if l.extra == nil {
		l.extra = map[any]any{}
	}
	l.extra[key] = v
	return v
}

// New creates a fresh set of loaders for one request.
func (b *Backend) New() *Loaders {
	l := &Loaders{b: b}
	wait := b.cfg.BatchWait
	l.orgs = newLoader(wait, perKey(l.fetchOrganizations))
	l.orgSessions = newLoader(wait, l.batchOrgSessions)
	l.session = newLoader(wait, perKey(l.fetchSession))
	l.event = newLoader(wait, perKey(l.fetchEvent))
	return l
}

// newLoader is the one way loaders are built: batch collects the keys asked for within wait.
func newLoader[K comparable, V any](wait time.Duration, batch dataloader.BatchFunc[K, V]) *dataloader.Loader[K, V] {
	return dataloader.NewBatchedLoader(batch, dataloader.WithWait[K, V](wait))
}

// Backend returns the long-lived backend.
func (l *Loaders) Backend() *Backend { return l.b }

type ctxKey struct{}

// Middleware puts a fresh Loaders set into every request's context.
func Middleware(b *Backend, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(With(r.Context(), b.New())))
	})
}

// With stores l in ctx.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// ArchiveCoverage is read's result, read once per request when ctx has loaders (every field
// that reads sessions asks; the answer of the request's first read is the request's), else
// read itself. A failed read is not kept.
func ArchiveCoverage[T any](ctx context.Context, read func() (T, error)) (T, error) {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		return read()
	}
	v, err := l.archiveCoverage.do(ctx, struct{}{}, true, func() (any, error) { return read() })
	if err != nil {
		var zero T
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return read() // another type asked under the one key: not memoised
	}
	return t, nil
}

// For returns the request's loaders. It panics if Middleware did not run: a wiring bug.
func For(ctx context.Context) *Loaders {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		panic("loaders: no Loaders in context (is loaders.Middleware installed?)")
	}
	return l
}

// perKey adapts a one-key fetch into a batch function that runs the keys in parallel (the
// client's per-server concurrency limit bounds what reaches each server) and answers one
// result per key, in key order, as the dataloader contract requires.
func perKey[K comparable, V any](fetch func(context.Context, K) (V, error)) dataloader.BatchFunc[K, V] {
	return func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		results := make([]*dataloader.Result[V], len(keys))
		var wg sync.WaitGroup
		for i, k := range keys {
			goRecover(&wg, func() {
				v, err := fetch(ctx, k)
				results[i] = &dataloader.Result[V]{Data: v, Error: err}
			}, func(err error) { results[i] = &dataloader.Result[V]{Error: err} })
		}
		wg.Wait()
		return results
	}
}

// ErrPanic wraps a panic recovered in a loader goroutine; the gateway reports it as INTERNAL.
var ErrPanic = errors.New("panic in loader")

// goRecover runs fn in a goroutine of wg. A panic there, which no executor recovery covers (it
// is not the resolver's goroutine), becomes onPanic(an ErrPanic) instead of a crashed process.
// Every goroutine the loaders start goes through here.
func goRecover(wg *sync.WaitGroup, fn func(), onPanic func(error)) {
	wg.Go(func() {
		defer func() {
			if p := recover(); p != nil {
				onPanic(fmt.Errorf("%w: %v", ErrPanic, p))
			}
		}()
		fn()
	})
}

func (l *Loaders) client(server string) (Upstream, error) {
	s, ok := l.b.Server(server)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownServer, server)
	}
	return s.Client, nil
}

// Organizations returns every organisation on a server (one upstream call per server per
// request at most, shared across requests for the listing TTL).
func (l *Loaders) Organizations(ctx context.Context, server string) ([]upstream.Organization, error) {
	return l.orgs.Load(ctx, server)()
}

// OrgJoin is a server's organisations indexed by name (upstream.OrgJoin), built once per
// request and server: every session's organisation field looks its name up in it.
func (l *Loaders) OrgJoin(ctx context.Context, server string) (upstream.OrgJoin, error) {
	return l.orgJoins.do(ctx, server, true, func() (upstream.OrgJoin, error) {
		orgs, err := l.Organizations(ctx, server)
		if err != nil {
			return upstream.OrgJoin{}, err
		}
		return upstream.NewOrgJoin(orgs), nil
	})
}

func (l *Loaders) fetchOrganizations(ctx context.Context, server string) ([]upstream.Organization, error) {
	c, err := l.client(server)
	if err != nil {
		return nil, err
	}
	if list, ok := l.b.keptOrganizations(server); ok {
		return list, nil
	}
	key := server + "\x00orgs"
	if l.b.listings != nil {
		if v, ok := l.b.listings.get(key); ok {
			return v.([]upstream.Organization), nil
		}
	}
	at := l.b.now()
	orgs, err := c.Organizations(ctx)
	if err != nil {
		return nil, err
	}
	l.b.keepOrganizations(server, orgs, at)
	if l.b.listings != nil {
		l.b.listings.add(key, orgs, orgsBytes(orgs))
	}
	return orgs, nil
}

// RestoreSession returns one session by id.
func (l *Loaders) RestoreSession(ctx context.Context, server, id string) (*upstream.RestoreSession, error) {
	return l.session.Load(ctx, SessionKey{Server: server, ID: id})()
}

// RestoreSessionFromServer loads a session from its server even when it is cached. A by-id
// lookup for a caller with a limited scope uses it, so that it makes the same upstream call
// whether the id exists or not: a cache hit (sessions are cached from every listing) would
// answer faster for an existing session, another tenant's included.
func (l *Loaders) RestoreSessionFromServer(ctx context.Context, server, id string) (*upstream.RestoreSession, error) {
	return l.session.Load(ctx, SessionKey{Server: server, ID: id, FromServer: true})()
}

func (l *Loaders) fetchSession(ctx context.Context, k SessionKey) (*upstream.RestoreSession, error) {
	if s, ok := l.b.cachedSession(k.Server, k.ID); ok && !k.FromServer {
		return s, nil
	}
	c, err := l.client(k.Server)
	if err != nil {
		return nil, err
	}
	s, _, err := c.RestoreSession(ctx, k.ID)
	if err != nil {
		return nil, err
	}
	l.b.rememberSession(k.Server, s)
	return s, nil
}

// RestoreSessionEvent returns one event, from the session's cached events when they are known.
func (l *Loaders) RestoreSessionEvent(ctx context.Context, server, sessionID, eventID string) (*upstream.RestoreSessionEvent, error) {
	return l.event.Load(ctx, EventKey{Server: server, SessionID: sessionID, EventID: eventID})()
}

func (l *Loaders) fetchEvent(ctx context.Context, k EventKey) (*upstream.RestoreSessionEvent, error) {
	if all, ok := l.b.cachedEvents(k.Server, k.SessionID); ok {
		for _, ev := range all {
			if ev.ID == k.EventID {
				return &ev, nil
			}
		}
	}
	c, err := l.client(k.Server)
	if err != nil {
		return nil, err
	}
	ev, _, err := c.RestoreSessionEvent(ctx, k.SessionID, k.EventID)
	return ev, err
}
