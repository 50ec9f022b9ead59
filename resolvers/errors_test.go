package resolvers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Every error a resolver can return maps to one code and a message safe to show: VBO's own
// text never reaches the client, internal errors are masked with the request id and logged.
func TestErrorPresenter(t *testing.T) {
	secret := "stack trace with password=hunter2"
	tests := []struct {
		name       string
		err        error
		code       string
		msg        string
		server     string
		logged     string // in the log ("" = nothing)
		notInReply string
	}{
		{"unauthenticated", ErrUnauthenticated, CodeUnauthenticated, "authentication required", "", "", ""},
		{"not found", ErrNotFound, CodeNotFound, "not found", "", "", ""},
		{"not found, wrapped", fmt.Errorf("find: %w", ErrNotFound), CodeNotFound, "not found", "", "", ""},
		{"unknown server", fmt.Errorf("%w %q", loaders.ErrUnknownServer, "x"), CodeNotFound, "not found", "", "", ""},
		{"a bad id", fmt.Errorf("%w: bad upstream id", gid.ErrInvalid), CodeBadUserInput, "invalid id or cursor", "", "", ""},
		{"bad input", badInputf("first must be small"), CodeBadUserInput, "first must be small", "", "", ""},
		{"a scalar's input error", &model.InputError{Msg: "DateTime: not RFC 3339"}, CodeBadUserInput, "DateTime: not RFC 3339", "", "", ""},
		{"VBO unavailable", &upstream.Error{Server: "mel1", StatusCode: 503, Message: secret}, CodeUpstreamUnavailable,
			"VBO server mel1 is unavailable", "mel1", "upstream failure", secret},
		{"VBO unreachable", &upstream.Error{Server: "mel1", Err: errors.New("connection refused")}, CodeUpstreamUnavailable,
			"VBO server mel1 is unavailable", "mel1", "upstream failure", "refused"},
		{"VBO too slow", &upstream.Error{Server: "akl1", Err: context.DeadlineExceeded}, CodeUpstreamTimeout,
			"VBO server akl1 did not answer in time", "akl1", "upstream failure", ""},
		{"VBO 404", &upstream.Error{Server: "syd1", StatusCode: 404, Message: secret}, CodeNotFound, "not found", "", "", secret},
		{"VBO 500", &upstream.Error{Server: "syd1", StatusCode: 500, Message: secret}, CodeUpstreamError,
			"VBO server syd1 returned an error", "syd1", "upstream failure", secret},
		{"the request deadline", fmt.Errorf("walk: %w", context.DeadlineExceeded), CodeUpstreamTimeout, "the request deadline passed", "", "upstream failure", ""},
		{"a loader panic", fmt.Errorf("%w: %v", loaders.ErrPanic, secret), CodeInternal, "internal error (request id req-7)", "", "internal error", secret},
		{"anything else", errors.New(secret), CodeInternal, "internal error (request id req-7)", "", "request_id=req-7", secret},
		{"the audit archive unavailable", fmt.Errorf("watch rules: create: %w", fakeStoreError{"disk_full", secret}), CodeStoreUnavailable,
			"the restore audit archive is unavailable (disk_full): try again shortly; what is read from the VBO servers directly keeps working",
			"", "audit archive unavailable", secret},
		{"gqlgen's own coded error", &gqlerror.Error{Message: "Cannot query field", Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}},
			"GRAPHQL_VALIDATION_FAILED", "Cannot query field", "", "", ""},
		{"gqlgen's argument coercion", &gqlerror.Error{Message: "cannot use String as Int"}, CodeBadUserInput, "cannot use String as Int", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := requestid.With(context.Background(), "req-7")
			got := e.present(ctx, tt.err)
			if got.Message != tt.msg || got.Extensions["code"] != tt.code {
				t.Errorf("got %q %v, want %q %s", got.Message, got.Extensions, tt.msg, tt.code)
			}
			server, hasServer := got.Extensions["server"]
			if tt.server == "" && hasServer || tt.server != "" && server != tt.server {
				t.Errorf("extensions.server = %v, want %q", server, tt.server)
			}
			if tt.notInReply != "" && strings.Contains(fmt.Sprint(got.Message, got.Extensions), tt.notInReply) {
				t.Errorf("the reply shows %q", tt.notInReply)
			}
			if log := e.log.String(); tt.logged == "" && log != "" || !strings.Contains(log, tt.logged) {
				t.Errorf("log = %q, want it to contain %q", log, tt.logged)
			}
		})
	}
}

// The one input-error type: a *model.InputError is BAD_USER_INPUT with its field and message,
// its field in extensions.field, also when it wraps an invalid id (its message says which input,
// not "invalid id or cursor") or is itself wrapped.
func TestInputErrorNamesItsField(t *testing.T) {
	badOrg := &model.InputError{Field: "filter.organizationIds", Msg: "holds an invalid organisation ID",
		Err: fmt.Errorf("%w: no kind", gid.ErrInvalid)}
	tests := []struct {
		name, msg, field string
		err              error
	}{
		{"a field and a cause", "filter.organizationIds holds an invalid organisation ID", "filter.organizationIds", badOrg},
		{"wrapped", "filter.organizationIds holds an invalid organisation ID", "filter.organizationIds", fmt.Errorf("restore audit: %w", badOrg)},
		{"a rule's field", "outsideBusinessHours.timeZone is required", "outsideBusinessHours.timeZone",
			&model.InputError{Field: "outsideBusinessHours.timeZone", Msg: "is required"}},
		{"no field", "first must be small", "", badInputf("first must be small")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newEnv(t).present(context.Background(), tt.err)
			if got.Message != tt.msg || got.Extensions["code"] != CodeBadUserInput {
				t.Errorf("got %q %v, want %q %s", got.Message, got.Extensions, tt.msg, CodeBadUserInput)
			}
			field, has := got.Extensions["field"]
			if tt.field == "" && has || tt.field != "" && field != tt.field {
				t.Errorf("extensions.field = %v, want %q", field, tt.field)
			}
			if code, msg := Classify(tt.err); code != CodeBadUserInput || msg != tt.msg {
				t.Errorf("Classify = %s %q, want %s %q", code, msg, CodeBadUserInput, tt.msg)
			}
		})
	}
	if !errors.Is(badOrg, gid.ErrInvalid) {
		t.Error("the input error does not unwrap to its cause")
	}
}

// fakeStoreError is what the audit store's UnavailableError looks like to resolvers.
type fakeStoreError struct{ cause, driverText string }

func (e fakeStoreError) Error() string            { return "store (postgres) unavailable: " + e.driverText }
func (e fakeStoreError) StoreUnavailable() string { return e.cause }

// One error per failed server however many fields needed it, one per code for errors that name
// no server; everything else passes through in order.
func TestDedupeServerErrors(t *testing.T) {
	up := func(code, server, path string) *gqlerror.Error {
		ext := map[string]any{"code": code}
		if server != "" {
			ext["server"] = server
		}
		return &gqlerror.Error{Message: code + " " + server, Path: ast.Path{ast.PathName(path)}, Extensions: ext}
	}
	other := &gqlerror.Error{Message: "not found", Extensions: map[string]any{"code": CodeNotFound}}
	plain := &gqlerror.Error{Message: "plain"}
	tests := []struct {
		name string
		in   gqlerror.List
		want []string // "message @path"
	}{
		{"empty", nil, nil},
		{"one", gqlerror.List{up(CodeUpstreamError, "syd1", "a")}, []string{"UPSTREAM_ERROR syd1 @a"}},
		{"same server, several fields", gqlerror.List{up(CodeUpstreamUnavailable, "syd1", "a"), up(CodeUpstreamUnavailable, "syd1", "b"),
			up(CodeUpstreamTimeout, "syd1", "c")}, []string{"UPSTREAM_UNAVAILABLE syd1 @a"}},
		{"two servers", gqlerror.List{up(CodeUpstreamUnavailable, "syd1", "a"), up(CodeUpstreamError, "mel1", "b"),
			up(CodeUpstreamUnavailable, "syd1", "c")}, []string{"UPSTREAM_UNAVAILABLE syd1 @a", "UPSTREAM_ERROR mel1 @b"}},
		{"no server: one per code", gqlerror.List{up(CodeUpstreamTimeout, "", "a"), up(CodeUpstreamTimeout, "", "b"),
			up(CodeUpstreamUnavailable, "", "c")}, []string{"UPSTREAM_TIMEOUT  @a", "UPSTREAM_UNAVAILABLE  @c"}},
		{"others pass through", gqlerror.List{other, up(CodeUpstreamError, "syd1", "a"), other, plain, nil, up(CodeUpstreamError, "syd1", "b")},
			[]string{"not found @", "UPSTREAM_ERROR syd1 @a", "not found @", "plain @", "<nil>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range DedupeServerErrors(tt.in) {
				if e == nil {
					got = append(got, "<nil>")
					continue
				}
				got = append(got, e.Message+" @"+e.Path.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A server that fails does not fail the list: the other servers' data comes back, and the
// response carries the failed server's error (once per field that needed it; the HTTP layer
// deduplicates across fields).
func TestPartialResults(t *testing.T) {
	unavailable := func(server string) error { return &upstream.Error{Server: server, StatusCode: 503} }
	tests := []struct {
		name       string
		p          *auth.Principal
		down       map[string]string // server -> failing method
		filter     *model.RestoreSessionFilter
		keep       func(fixtureSession) bool
		wantErrors []string
	}{
		{"admin: mel1's listing fails", admin, map[string]string{"mel1": "sessions"}, nil,
			func(f fixtureSession) bool { return f.server != "mel1" }, []string{"UPSTREAM_UNAVAILABLE mel1"}},
		{"admin: mel1's organisations fail, no scope needed", admin, map[string]string{"mel1": "orgs"}, nil, nil, nil},
		{"admin filtering by organisation: mel1's organisations fail", admin, map[string]string{"mel1": "orgs"},
			&model.RestoreSessionFilter{OrganizationIds: []string{orgGID("syd1", "c0a0-0001"), orgGID("mel1", "c0a0-0002")}},
			func(f fixtureSession) bool { return f.server == "syd1" && f.orgID == "c0a0-0001" }, []string{"UPSTREAM_UNAVAILABLE mel1"}},
		{"tenant: mel1's organisations fail", contoso, map[string]string{"mel1": "orgs"}, nil,
			func(f fixtureSession) bool { return f.server == "syd1" }, []string{"UPSTREAM_UNAVAILABLE mel1"}},
		{"tenant: every server fails", contoso, map[string]string{"mel1": "sessions", "syd1": "sessions"}, nil,
			func(fixtureSession) bool { return false }, []string{"UPSTREAM_UNAVAILABLE mel1", "UPSTREAM_UNAVAILABLE syd1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			for server, method := range tt.down {
				e.fleet[server].failWith(method, unavailable(server))
			}
			ctx := e.ctx(tt.p)
			conn, err := e.r.Query().RestoreSessions(ctx, ptr(500), nil, tt.filter, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantSessions(e.fleet, tt.p, tt.keep); !slices.Equal(sessionIDs(conn), want) {
				t.Errorf("got  %v\nwant %v", sessionIDs(conn), want)
			}
			got := responseErrors(ctx)
			slices.Sort(got)
			if !slices.Equal(got, tt.wantErrors) {
				t.Errorf("response errors = %v, want %v", got, tt.wantErrors)
			}
			if slices.Contains(slices.Collect(maps.Values(tt.down)), "sessions") && !conn.PageInfo.HasNextPage {
				t.Error("hasNextPage false while a failed server's sessions are missing (they follow once it answers)")
			}
		})
	}
}

// Organisation lists and per-organisation and per-session lists answer empty plus the server's
// error when that server fails.
func TestPartialResultsOfNestedLists(t *testing.T) {
	e := newEnv(t)
	e.fleet["akl1"].failWith("orgs", &upstream.Error{Server: "akl1", StatusCode: 502})
	e.fleet["syd1"].failWith("sessions", &upstream.Error{Server: "syd1", StatusCode: 500})
	e.fleet["syd1"].failWith("events", &upstream.Error{Server: "syd1", StatusCode: 504})
	ctx := e.ctx(admin)

	orgs, err := e.r.Query().Organizations(ctx, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := orgEdgeNames(orgs); !slices.Equal(got, []string{"syd1/Contoso", "syd1/Fabrikam", "mel1/Contoso", "mel1/Northwind"}) {
		t.Errorf("organizations = %v", got)
	}
	org := orgs.Edges[0].Node
	sessions, err := e.r.Organization().RestoreSessions(ctx, org, nil, nil, nil, nil)
	if err != nil || len(sessions.Edges) != 0 || sessions.PageInfo == nil {
		t.Errorf("a failing server's organisation sessions = %v, %v; want an empty connection", sessions, err)
	}
	events, err := e.r.RestoreSession().Events(ctx, &model.RestoreSession{ServerName: "syd1",
		Upstream: upstream.RestoreSession{ID: sessionID("syd1", "Contoso", 1)}}, nil, nil, nil)
	if err != nil || len(events.Edges) != 0 || events.PageInfo == nil {
		t.Errorf("a failing server's events = %v, %v; want an empty connection", events, err)
	}
	want := []string{"UPSTREAM_UNAVAILABLE akl1", "UPSTREAM_ERROR syd1", "UPSTREAM_UNAVAILABLE syd1"}
	if got := responseErrors(ctx); !slices.Equal(got, want) {
		t.Errorf("response errors = %v, want %v", got, want)
	}
}

// An upstream failure loading an object by id is that server's error; a 400 for an id VBO does
// not accept reads as not found, like any unknown id.
func TestByIDUpstreamErrors(t *testing.T) {
	fab1 := sessionID("syd1", "Fabrikam", 1)
	tests := []struct {
		name   string
		method string
		err    error
		id     string
		want   string
	}{
		{"session: server unavailable", "session", &upstream.Error{Server: "syd1", StatusCode: 503}, sessionGID("syd1", fab1), CodeUpstreamUnavailable},
		{"session: VBO refuses the id", "session", &upstream.Error{Server: "syd1", StatusCode: 400}, sessionGID("syd1", fab1), CodeNotFound},
		{"organisation: server unavailable", "orgs", &upstream.Error{Server: "syd1", StatusCode: 503}, orgGID("syd1", "f0a0-0001"), CodeUpstreamUnavailable},
		{"event: server error", "event", &upstream.Error{Server: "syd1", StatusCode: 500}, eventGID("syd1", fab1, fab1+"-e1"), CodeUpstreamError},
		{"event: VBO refuses the id", "event", &upstream.Error{Server: "syd1", StatusCode: 400}, eventGID("syd1", fab1, fab1+"-e1"), CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.fleet["syd1"].failWith(tt.method, tt.err)
			n, err := e.r.Query().Node(e.ctx(admin), tt.id)
			if n != nil || e.code(err) != tt.want {
				t.Errorf("got %v, %v; want %s", n, err, tt.want)
			}
		})
	}
}
