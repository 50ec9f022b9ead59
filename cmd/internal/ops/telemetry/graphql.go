package telemetry

import (
	"context"
	"encoding/json"
	"regexp"

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

// operationName is the operation's name as the document gives it, else AnonymousOperation.
func operationName(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return AnonymousOperation
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Name != "" {
		return oc.Operation.Name
	}
	if oc.OperationName != "" {
		return oc.OperationName
	}
	if oc.Doc != nil && len(oc.Doc.Operations) == 1 && oc.Doc.Operations[0].Name != "" {
		return oc.Doc.Operations[0].Name // refused before execution (limits)
	}
	if m := leadingOperation.FindStringSubmatch(oc.RawQuery[:min(len(oc.RawQuery), 4096)]); m != nil {
		return m[1] // refused in validation: the document's first operation
	}
	return AnonymousOperation
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
