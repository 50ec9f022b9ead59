package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/golang-jwt/jwt/v5"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Every websocket operation is admitted like an HTTP request, when it starts (not once per
// connection):
//
//   - authentication: connection_init's credentials are authenticated again with the
//     configuration in force (Options.CurrentAuthenticate: after a reload, the new one). A key
//     removed or a JWT expired closes the socket with 4403 Forbidden; so does a JWT's expiry
//     while the socket is open, at that moment, whatever runs on it, and a reload that revoked
//     the credentials, at the next ping (graphql-transport-ws) or keep-alive "ka" (the legacy
//     graphql-ws), every 15 s, if no operation comes first;
//   - the per-principal rate limit (here) and, for queries and mutations, the per-principal
//     concurrency limit and the request deadline (the executor's admission interceptor, which
//     SSE's take too): the same limiters as HTTP's (one budget per principal whatever the
//     transport, admission.go), refused RATE_LIMITED with the same message;
//   - the document limits and the query cost: the executor's extensions, as for HTTP, with the
//     operation's own meter and fresh loaders.
//
// graphql-transport-ws operation ids are unique while their operation runs: a subscribe with
// the id of one still running closes the socket with 4409 "Subscriber for <id> already
// exists" (gqlgen would start it and lose the first, which kept its subscription slot).

// Close codes of graphql-transport-ws.
const (
	wsCloseForbidden   = 4403
	wsCloseDuplicateID = 4409
)

// wsPolicy is what admits websocket operations, shared by a handler's connections.
type wsPolicy struct {
	authenticate Authenticator // the configuration in force
	admit        *admission
	backend      *loaders.Backend
	ping         time.Duration // the ping and keep-alive period (0: the transport's, wsPingInterval)
	logger       *slog.Logger
}

// wsTransport is gqlgen's websocket transport with every operation admitted by policy.
type wsTransport struct {
	transport.Websocket
	policy *wsPolicy
}

func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	s := &wsSession{orig: r, policy: t.policy}
	defer s.end()
	r = r.WithContext(context.WithValue(r.Context(), wsSessionKey{}, s))
	ws := t.Websocket
	if t.policy.ping > 0 {
		ws.PingPongInterval = t.policy.ping      // graphql-transport-ws
		ws.KeepAlivePingInterval = t.policy.ping // the legacy graphql-ws: "ka" messages
	}
	ws.Do(w, r, &wsExecutor{GraphExecutor: exec, policy: t.policy, session: s, ops: map[*graphql.OperationContext]*wsOperation{}})
}

type wsSessionKey struct{}

func sessionFrom(ctx context.Context) *wsSession {
	s, _ := ctx.Value(wsSessionKey{}).(*wsSession)
	return s
}

// wsSession is one websocket connection: its credentials and its socket.
type wsSession struct {
	orig   *http.Request // the upgrade (the client's address)
	policy *wsPolicy

	mu        sync.Mutex
	cred      *http.Request // connection_init's credentials as headers; nil before
	conn      *wsConn
	expiry    *time.Timer
	forbidden bool
}

// authenticated records the credentials connection_init brought, and closes the socket with
// 4403 when a JWT among them expires.
func (s *wsSession) authenticated(cred *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cred = cred
	if exp, ok := jwtExpiry(cred); ok && s.expiry == nil {
		s.expiry = time.AfterFunc(time.Until(exp), func() { s.forbid("Forbidden: the token expired") })
	}
}

// authorize authenticates the connection's credentials again with the configuration in force.
func (s *wsSession) authorize(authenticate Authenticator) (*auth.Principal, error) {
	s.mu.Lock()
	cred, forbidden := s.cred, s.forbidden
	s.mu.Unlock()
	switch {
	case forbidden:
		return nil, errors.New("the connection was refused")
	case cred == nil:
		return nil, errors.New("no connection_init")
	}
	p, err := authenticate(cred)
	if err == nil && p == nil {
		err = errors.New("no credentials")
	}
	return p, err
}

// recheck authenticates the connection's credentials again (at each ping or "ka": a reload that
// revoked them closes an idle socket too, within a ping period) and closes the socket with
// 4403 when they are no longer accepted.
func (s *wsSession) recheck() {
	s.mu.Lock()
	initialised := s.cred != nil
	s.mu.Unlock()
	if !initialised {
		return
	}
	if _, err := s.authorize(s.policy.authenticate); err != nil {
		s.policy.logger.Info("websocket credentials no longer accepted: closing the connection", "reason", err)
		s.forbid("Forbidden")
	}
}

// forbid closes the socket with 4403: its credentials are no longer accepted.
func (s *wsSession) forbid(reason string) {
	s.mu.Lock()
	s.forbidden = true
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		conn.closeWith(wsCloseForbidden, reason)
	}
}

func (s *wsSession) attach(c *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = c
}

// end stops the session's timer (the connection is over).
func (s *wsSession) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
}

// jwtExpiry reads the exp claim of a bearer JWT (verified by the authenticator already; read
// here only to close the socket on time).
func jwtExpiry(cred *http.Request) (time.Time, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(cred.Header.Get("Authorization")), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.Count(tok, ".") != 2 {
		return time.Time{}, false
	}
	claims := jwt.RegisteredClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}, false
	}
	return claims.ExpiresAt.Time, true
}

// wsOperation is what one websocket operation was admitted with: the caller as authenticated
// when it started, its meter (the cost estimate and the upstream calls) and its loaders.
type wsOperation struct {
	p       *auth.Principal
	meter   *meter
	loaders *loaders.Loaders
}

func (op *wsOperation) context(ctx context.Context) context.Context {
	ctx = upstream.WithFairnessKey(auth.WithPrincipal(ctx, op.p), principalKey(op.p))
	return loaders.With(withNewMeter(ctx, op.meter), op.loaders)
}

// wsExecutor admits one connection's operations (gqlgen's websocket transport calls it for
// each subscribe message).
type wsExecutor struct {
	graphql.GraphExecutor
	policy  *wsPolicy
	session *wsSession

	mu  sync.Mutex
	ops map[*graphql.OperationContext]*wsOperation // created, not yet dispatched
}

func (x *wsExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	p, err := x.session.authorize(x.policy.authenticate)
	if err != nil {
		x.policy.logger.InfoContext(ctx, "websocket credentials no longer accepted: closing the connection", "reason", err,
			"request_id", requestid.From(ctx))
		x.session.forbid("Forbidden")
		e := gqlerror.Errorf("authentication required")
		e.Extensions = map[string]any{"code": resolvers.CodeUnauthenticated}
		return refusedOperation(ctx, params), gqlerror.List{e}
	}
	if refused := x.policy.admit.allow(principalKey(p)); refused != nil {
		return refusedOperation(ctx, params), gqlerror.List{refused.gqlError()}
	}
	op := &wsOperation{p: p, meter: &meter{}, loaders: x.policy.backend.New()}
	rc, errs := x.GraphExecutor.CreateOperationContext(op.context(ctx), params)
	if rc != nil {
		x.mu.Lock()
		x.ops[rc] = op
		x.mu.Unlock()
	}
	return rc, errs
}

// refusedOperation is the operation context of an operation refused before it was parsed.
func refusedOperation(ctx context.Context, params *graphql.RawParams) *graphql.OperationContext {
	return &graphql.OperationContext{RawQuery: params.Query, OperationName: params.OperationName, Variables: params.Variables,
		Extensions: params.Extensions, Headers: params.Headers,
		Stats: graphql.Stats{Read: params.ReadTime, OperationStart: graphql.GetStartTime(ctx)}}
}

func (x *wsExecutor) take(rc *graphql.OperationContext) *wsOperation {
	x.mu.Lock()
	defer x.mu.Unlock()
	op := x.ops[rc]
	delete(x.ops, rc)
	return op
}

// DispatchError answers an operation refused before execution with its own context (the cost
// estimate in extensions.cost, as over HTTP).
func (x *wsExecutor) DispatchError(ctx context.Context, list gqlerror.List) *graphql.Response {
	if graphql.HasOperationContext(ctx) {
		if op := x.take(graphql.GetOperationContext(ctx)); op != nil {
			ctx = op.context(ctx)
		}
	}
	return x.GraphExecutor.DispatchError(ctx, list)
}

// DispatchOperation runs an admitted operation as the principal it was admitted as: the
// executor's interceptors then give a query or mutation its concurrency slot and deadline
// (admission.go), a subscription its subscription slot (addStreamTransports).
func (x *wsExecutor) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	op := x.take(rc)
	if op == nil || rc.Operation == nil { // not created by CreateOperationContext: never run unadmitted
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{Message: "internal system error",
			Extensions: map[string]any{"code": resolvers.CodeInternal}}}}), ctx
	}
	return x.GraphExecutor.DispatchOperation(op.context(ctx), rc)
}

// wsAccepter accepts websockets as wsConns, attached to their session.
type wsAccepter struct {
	transport.WebsocketImplementation
}

func (a wsAccepter) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := a.WebsocketImplementation.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	wc := &wsConn{WebsocketConn: c, running: map[string]bool{}}
	if s := sessionFrom(r.Context()); s != nil {
		s.attach(wc)
		wc.onPing = s.recheck
	}
	return wc, nil
}

// errDuplicateID ends the transport's read loop after a duplicate operation id.
var errDuplicateID = errors.New("duplicate operation id")

// wsConn is a websocket that knows which operation ids are running (subscribed by the client,
// not yet completed or failed by the server) and closes with 4409 on a subscribe that reuses
// one, before the transport sees it.
type wsConn struct {
	transport.WebsocketConn

	onPing func() // called (in its own goroutine) as each ping (or legacy keep-alive "ka") goes out

	mu      sync.Mutex
	running map[string]bool
	closed  bool
}

var (
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

func (c *wsConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.WebsocketConn.NextReader()
	if err != nil {
		return typ, r, err
	}
	data, err := io.ReadAll(r) // the adapter has read the message whole, within the read limit
	if err != nil {
		return typ, nil, err
	}
	var m struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	if json.Unmarshal(data, &m) == nil && (m.Type == "subscribe" || m.Type == "start") { // start: legacy graphql-ws
		c.mu.Lock()
		dup := c.running[m.ID]
		c.running[m.ID] = true
		c.mu.Unlock()
		if dup {
			c.closeWith(wsCloseDuplicateID, "Subscriber for "+m.ID+" already exists")
			return typ, nil, errDuplicateID
		}
	}
	return typ, bytes.NewReader(data), nil
}

// WriteJSON frees an operation's id when the server completes or fails it.
func (c *wsConn) WriteJSON(v any) error {
	switch id, typ := messageIDType(v); typ {
	case "complete", "error":
		c.mu.Lock()
		delete(c.running, id)
		c.mu.Unlock()
	case "ping", "ka": // graphql-transport-ws's ping, the legacy graphql-ws's keep-alive
		if c.onPing != nil {
			go c.onPing()
		}
	}
	return c.WebsocketConn.WriteJSON(v)
}

// messageIDType reads the id and type of a message the transport sends (its message structs
// are unexported; both protocols name the fields ID and Type).
func messageIDType(v any) (id, typ string) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return "", ""
	}
	if f := rv.FieldByName("ID"); f.IsValid() && f.Kind() == reflect.String {
		id = f.String()
	}
	if f := rv.FieldByName("Type"); f.IsValid() && f.Kind() == reflect.String {
		typ = f.String()
	}
	return id, typ
}

// closeWith closes the socket with code and reason (once; the transport's own close after it
// changes nothing).
func (c *wsConn) closeWith(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	_ = c.WebsocketConn.WriteClose(code, reason)
}

func (c *wsConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
