package requestid_test

import (
	"context"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	if id := requestid.From(context.Background()); id != "" {
		t.Errorf("a context without an id: %q", id)
	}
	ctx := requestid.With(context.Background(), "req-7")
	if id := requestid.From(ctx); id != "req-7" {
		t.Errorf("From = %q, want req-7", id)
	}
	if id := requestid.From(context.WithValue(ctx, struct{ k string }{"other"}, "x")); id != "req-7" {
		t.Errorf("a derived context: %q", id)
	}
}
