package telemetry

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// GraphQLObserver is told about every GraphQL response (the metrics).
type GraphQLObserver interface {
	ObserveGraphQL(operation, outcome string)
}

// GraphQL outcomes.
const (
	OutcomeOK       = "ok"       // no errors
	OutcomePartial  = "partial"  // data with errors (a server failed)
	OutcomeError    = "error"    // no data
	OutcomeRejected = "rejected" // refused before execution (parse, validation, limits)
)

// AnonymousOperation names operations without a name.
const AnonymousOperation = "anonymous"

// UnknownOperation names a request whose operationName is not the name of an operation in its
// document (or whose document could not be read far enough to tell): the caller's text is
// never used as a name.
const UnknownOperation = "unknown"

// MaxOperationNameBytes bounds an operation name wherever it is recorded (metric labels, access
// lines, span names): GraphQL names have no length limit, and a caller's 900 KB name would
// otherwise be copied into every scrape and log line. Longer names are cut to this length.
const MaxOperationNameBytes = 64

// GraphQLExtensions returns the gqlgen extensions to Use first (outermost, so they see the
// final response): operation name, principal, error codes and cost into the request's Record
// and the observer; with tracing, a span per operation ("query RecentRestores") and per
// resolver field (the fields that reach the loaders and VBO).
func GraphQLExtensions(t *Tracing, obs GraphQLObserver) []graphql.HandlerExtension {
	exts := []graphql.HandlerExtension{&operationExtension{tracing: t, obs: obs}}
	if t != nil {
		exts = append(exts, &fieldTracer{tracer: t.tracer})
	}
	return exts
}

type operationExtension struct {
	tracing *Tracing
	obs     GraphQLObserver
}

var (
	_ graphql.OperationInterceptor = (*operationExtension)(nil)
	_ graphql.ResponseInterceptor  = (*operationExtension)(nil)
	_ graphql.FieldInterceptor     = (*fieldTracer)(nil)
)

func (*operationExtension) ExtensionName() string                   { return "Telemetry" }
func (*operationExtension) Validate(graphql.ExecutableSchema) error { return nil }
func (*fieldTracer) ExtensionName() string                          { return "FieldTracing" }
func (*fieldTracer) Validate(graphql.ExecutableSchema) error        { return nil }

type executingKey struct{}

// executingOp marks a context as inside an executed operation, with its span.
type executingOp struct {
	span trace.Span // nil without tracing
}

func executingFrom(ctx context.Context) *executingOp {
	o, _ := ctx.Value(executingKey{}).(*executingOp)
	return o
}

// leadingOperation reads the name of a document's first operation (linear time: RE2).
var leadingOperation = regexp.MustCompile(`^(?:\s|,|#[^\n]*\n)*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)`)

// operationName names the operation for metrics, logs and spans: only a name that an operation
// of the document has (else AnonymousOperation or UnknownOperation), at most
// MaxOperationNameBytes long.
func operationName(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return AnonymousOperation
	}
	return OperationName(graphql.GetOperationContext(ctx))
}

// OperationName is oc's operation's name as operationName bounds it, for other parts that log
// an operation (the cost limit's refusals).
func OperationName(oc *graphql.OperationContext) string {
	if oc == nil {
		return AnonymousOperation
	}
	var name string
	switch {
	case oc.Operation != nil: // the operation that runs (or was refused after validation)
		name = oc.Operation.Name
	case oc.Doc != nil: // validated, but operationName picked none of its operations
		if oc.OperationName == "" {
			return AnonymousOperation
		}
		op := oc.Doc.Operations.ForName(oc.OperationName)
		if op == nil {
			return UnknownOperation
		}
		name = op.Name
	default: // refused in parsing or validation: the document's first operation, if it is the one asked for
		m := leadingOperation.FindStringSubmatch(oc.RawQuery[:min(len(oc.RawQuery), 4096)])
		switch {
		case m != nil && (oc.OperationName == "" || oc.OperationName == m[1]):
			name = m[1]
		case oc.OperationName != "":
			return UnknownOperation
		}
	}
	if name == "" {
		return AnonymousOperation
	}
	return BoundName(name)
}

// BoundName cuts s to at most MaxOperationNameBytes, on a character boundary, with invalid
// UTF-8 replaced (metric label values must be valid UTF-8).
func BoundName(s string) string {
	if len(s) <= MaxOperationNameBytes && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s[:min(len(s), MaxOperationNameBytes)], "")
}

func (e *operationExtension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := &executingOp{}
	if e.tracing != nil {
		oc := graphql.GetOperationContext(ctx)
		name := operationName(ctx)
		kind := "query"
		if oc.Operation != nil {
			kind = string(oc.Operation.Operation)
		}
		ctx, op.span = e.tracing.tracer.Start(ctx, kind+" "+name, trace.WithAttributes(
			attribute.String("graphql.operation.name", name),
			attribute.String("graphql.operation.type", kind)))
	}
	return next(context.WithValue(ctx, executingKey{}, op))
}

func (e *operationExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	name := operationName(ctx)
	op := executingFrom(ctx)
	outcome := OutcomeRejected
	var codesSeen []string
	var cost json.RawMessage
	if resp != nil {
		for _, err := range resp.Errors {
			if c, ok := err.Extensions["code"].(string); ok && c != "" {
				codesSeen = append(codesSeen, c)
			}
		}
		if c, ok := resp.Extensions["cost"]; ok {
			cost, _ = json.Marshal(c)
		}
		if op != nil {
			hasData := len(resp.Data) > 0 && string(resp.Data) != "null"
			switch {
			case len(resp.Errors) == 0:
				outcome = OutcomeOK
			case hasData:
				outcome = OutcomePartial
			default:
				outcome = OutcomeError
			}
		}
	}
	if rec := RecordFrom(ctx); rec != nil {
		p := auth.FromContext(ctx)
		var subject, tenant string
		if p != nil {
			subject, tenant = p.Subject, p.Tenant
		}
		rec.setOperation(name, subject, tenant)
		rec.setResult(codesSeen, cost)
	}
	if e.obs != nil {
		e.obs.ObserveGraphQL(name, outcome)
	}
	if op != nil {
		n := 0
		if resp != nil {
			n = len(resp.Errors)
		}
		op.finish(outcome, n)
	}
	return resp
}

func (o *executingOp) finish(outcome string, errs int) {
	if o.span == nil {
		return
	}
	o.span.SetAttributes(attribute.String("graphql.outcome", outcome), attribute.Int("graphql.errors", errs))
	if outcome != OutcomeOK {
		o.span.SetStatus(codes.Error, outcome)
	}
	o.span.End()
}

// fieldTracer spans the fields that have resolvers (they reach the loaders); plain struct
// fields are not worth a span each.
type fieldTracer struct {
	tracer trace.Tracer
}

func (f *fieldTracer) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := f.tracer.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.path", fc.Path().String())))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return res, err
}
