package resolvers

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Error codes in extensions.code (docs/architecture.md, "Partial results").
const (
	CodeUnauthenticated     = "UNAUTHENTICATED"
	CodeForbidden           = "FORBIDDEN"
	CodeNotFound            = "NOT_FOUND"
	CodeBadUserInput        = "BAD_USER_INPUT"
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	CodeUpstreamTimeout     = "UPSTREAM_TIMEOUT"
	CodeUpstreamError       = "UPSTREAM_ERROR"
	CodeQueryTooComplex     = "QUERY_TOO_COMPLEX"
	CodeRateLimited         = "RATE_LIMITED"
	CodeInternal            = "INTERNAL"
	CodeNotConfigured       = "NOT_CONFIGURED"
	// CodeOrgNameAmbiguous: an organisation the caller asked about (its own) shares its name with
	// another organisation of its server, so its sessions are withheld (OrgNameAmbiguousError).
	CodeOrgNameAmbiguous = "ORG_NAME_AMBIGUOUS"
	// CodeStoreUnavailable: the restore audit archive (the watch's database) could not be
	// reached or written; what is read from VBO directly keeps working.
	CodeStoreUnavailable = "STORE_UNAVAILABLE"
)

// storeUnavailable is implemented by the audit store's errors when its database could not be
// reached or written (store.UnavailableError); StoreUnavailable returns the cause class
// (connection, disk_full, io, busy, read_only...). Declared here so resolvers need not import
// the store.
type storeUnavailable interface {
	error
	StoreUnavailable() string
}

// OrgNameAmbiguousError is the partial-result error of a session list (or the audit report)
// that withheld an in-scope organisation's sessions because another organisation of the same
// server carries the same name under upstream.OrgNameKey (VBO records a session's organisation
// by name alone, see upstream.OrgJoin). It names only the caller's organisation: extensions
// {code: ORG_NAME_AMBIGUOUS, server, organizationId}; Organization.nameAmbiguous is the flag.
type OrgNameAmbiguousError struct {
	Server string
	OrgID  string // the upstream id of the caller's organisation
}

func (e *OrgNameAmbiguousError) Error() string {
	return "another organisation of VBO server " + e.Server + " has the name of organisation " + e.globalID() +
		" (ignoring case): VBO records restore sessions by organisation name only, so its sessions cannot be attributed and are withheld" +
		" until one of the two is renamed (see Organization.nameAmbiguous)"
}

func (e *OrgNameAmbiguousError) globalID() string {
	return gid.ID{Kind: gid.KindOrganization, Server: e.Server, Upstream: e.OrgID}.String()
}

// ErrNotFound is the one answer for missing and out-of-scope objects alike.
var ErrNotFound = errors.New("not found")

// ErrForbidden: the caller may see the object but its role may not change it.
var ErrForbidden = errors.New("forbidden")

// RoleError is ErrForbidden naming the role the caller has and the roles the action needs,
// so a refusal says what to ask for.
type RoleError struct {
	Action string      // e.g. "manage this watch rule"
	Have   auth.Role   // the caller's role
	Need   []auth.Role // any of these may
}

func (e *RoleError) Error() string {
	need := make([]string, len(e.Need))
	for i, r := range e.Need {
		need[i] = string(r)
	}
	return "your role (" + string(e.Have) + ") may not " + e.Action + ": it needs " + strings.Join(need, " or ")
}

// Is makes a RoleError an ErrForbidden.
func (e *RoleError) Is(target error) bool { return target == ErrForbidden }

// ErrUnauthenticated: the request carries no principal.
var ErrUnauthenticated = errors.New("authentication required")

// badInputf is a client error with a message safe to show (a *model.InputError, the one
// input-error type).
func badInputf(msg string) error { return &model.InputError{Msg: msg} }

// ErrorPresenter maps every error to a GraphQL error with extensions.code. Upstream bodies are
// never echoed; internal errors are masked and logged with the request id.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		code, msg, server := classify(err)
		if code == "" {
			if c, ok := gqlErr.Extensions["code"].(string); ok && c != "" {
				return gqlErr // parse/validation errors from gqlgen, or already coded
			}
			var inner *gqlerror.Error
			if errors.As(err, &inner) && inner.Err == nil {
				// An error gqlgen built itself (e.g. argument coercion): a client mistake.
				code, msg = CodeBadUserInput, gqlErr.Message
			} else {
				code, msg = CodeInternal, "internal error (request id "+requestid.From(ctx)+")"
				logger.ErrorContext(ctx, "internal error", "err", err, "path", gqlErr.Path.String(), "request_id", requestid.From(ctx))
			}
		}
		if code == CodeStoreUnavailable {
			logger.WarnContext(ctx, "audit archive unavailable", "err", err, "path", gqlErr.Path.String(), "request_id", requestid.From(ctx))
		}
		if code == CodeUpstreamUnavailable || code == CodeUpstreamTimeout || code == CodeUpstreamError {
			logger.WarnContext(ctx, "upstream failure", "err", err, "server", server, "path", gqlErr.Path.String(), "request_id", requestid.From(ctx))
		}
		gqlErr.Message = msg
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = code
		if server != "" {
			gqlErr.Extensions["server"] = server
		}
		if oa := (*OrgNameAmbiguousError)(nil); errors.As(err, &oa) {
			gqlErr.Extensions["organizationId"] = oa.globalID()
		}
		if ie := (*model.InputError)(nil); code == CodeBadUserInput && errors.As(err, &ie) && ie.Field != "" {
			gqlErr.Extensions["field"] = ie.Field
		}
		return gqlErr
	}
}

// Classify returns the error code and a client-safe message for err, as GraphQL responses carry
// them (for handlers beside /graphql, such as the CSV exports); errors the gateway does not know
// are INTERNAL with a generic message.
func Classify(err error) (code, msg string) {
	code, msg, _ = classify(err)
	if code == "" {
		return CodeInternal, "internal error"
	}
	return code, msg
}

// classify returns the code and a client-safe message for errors the gateway knows.
func classify(err error) (code, msg, server string) {
	var ue *upstream.Error
	var ie *model.InputError
	var oa *OrgNameAmbiguousError
	var su storeUnavailable
	var re *RoleError
	var le *LimitError
	var pe *PolicyError
	switch {
	case errors.As(err, &oa):
		return CodeOrgNameAmbiguous, oa.Error(), oa.Server
	case errors.As(err, &su):
		return CodeStoreUnavailable, "the restore audit archive is unavailable (" + su.StoreUnavailable() +
			"): try again shortly; what is read from the VBO servers directly keeps working", ""
	case errors.Is(err, ErrUnauthenticated):
		return CodeUnauthenticated, "authentication required", ""
	case errors.As(err, &re):
		return CodeForbidden, re.Error(), ""
	case errors.As(err, &pe) && pe.Forbidden:
		return CodeForbidden, pe.Error(), ""
	case errors.As(err, &pe):
		return CodeBadUserInput, pe.Error(), ""
	case errors.Is(err, ErrForbidden):
		return CodeForbidden, "your role may not do this", ""
	case errors.As(err, &le):
		return CodeRateLimited, le.Error(), ""
	case errors.Is(err, ErrRestoreOff):
		return CodeNotConfigured, ErrRestoreOff.Error(), ""
	case errors.Is(err, ErrNotConfigured):
		return CodeNotConfigured, ErrNotConfigured.Error(), ""
	case errors.Is(err, ErrNotFound), errors.Is(err, loaders.ErrUnknownServer):
		return CodeNotFound, "not found", ""
	case errors.As(err, &ie):
		// Before the id checks: an input error may wrap its cause (an invalid id), and its
		// message says which input.
		return CodeBadUserInput, ie.Error(), ""
	case errors.Is(err, gid.ErrCursorUnsealed):
		return CodeBadUserInput, "invalid id or cursor (a cursor from before a gateway restart has expired: start again from the first page)", ""
	case errors.Is(err, gid.ErrInvalid):
		return CodeBadUserInput, "invalid id or cursor", ""
	case errors.As(err, &ue):
		server = ue.Server
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return CodeUpstreamTimeout, "VBO server " + server + " did not answer in time", server
		case ue.Unavailable():
			return CodeUpstreamUnavailable, "VBO server " + server + " is unavailable", server
		case ue.StatusCode == 404:
			return CodeNotFound, "not found", ""
		default:
			return CodeUpstreamError, "VBO server " + server + " returned an error", server
		}
	case errors.Is(err, context.DeadlineExceeded):
		return CodeUpstreamTimeout, "the request deadline passed", ""
	}
	return "", "", ""
}

// addServerError reports a failed server as a GraphQL error on the current path while the
// field still returns the data of the other servers.
func addServerError(ctx context.Context, err error) {
	graphql.AddError(ctx, err)
}

// notFoundIfAbsent turns what a GET by id answers for an absent object into ErrNotFound: a 404,
// or a 400 for an id that is not a UUID (a malformed-but-plausible id is not found like any
// unknown one; see node in the schema).
func notFoundIfAbsent(err error) error {
	if errors.Is(err, upstream.ErrNotFound) || errors.Is(err, upstream.ErrBadRequest) {
		return ErrNotFound
	}
	return err
}
