package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The error that ends a subscription reaches the client under the gateway's codes: a slow
// client and a reload under their own, a VBO failure (an ended session's events read from its
// server) as the query classifies it, with the server and never the upstream text, and a
// failing archive masked with the request id.
func TestEndStreamCodes(t *testing.T) {
	r := &Resolver{Logger: slog.New(slog.DiscardHandler)}
	const leak = "token=hunter2 at 10.0.0.5"
	tests := []struct {
		name              string
		err               error
		code, msg, server string
	}{
		{"slow subscriber", ErrSlowSubscriber, CodeSlowSubscriber, ErrSlowSubscriber.Error(), ""},
		{"reload", fmt.Errorf("feed: %w", ErrResubscribe), CodeResubscribe, "feed: " + ErrResubscribe.Error(), ""},
		{"VBO unavailable", fmt.Errorf("events: %w", &upstream.Error{Server: "syd1", StatusCode: 503, Message: leak}),
			CodeUpstreamUnavailable, "VBO server syd1 is unavailable", "syd1"},
		{"VBO error", &upstream.Error{Server: "mel1", StatusCode: 500, Message: leak}, CodeUpstreamError, "VBO server mel1 returned an error", "mel1"},
		{"session gone from VBO", &upstream.Error{Server: "syd1", StatusCode: 404, Message: leak}, CodeNotFound, "not found", ""},
		{"archive fails", errors.New("store: events: " + leak), CodeInternal, "subscription ended: the archive could not be read (request id req-7)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := WithStreamEnd(requestid.With(context.Background(), "req-7"))
			r.endStream(ctx, tt.err)
			got := StreamEnd(ctx)
			if got == nil {
				t.Fatal("no end error recorded")
			}
			if got.Message != tt.msg || got.Extensions["code"] != tt.code {
				t.Errorf("ended with %v %q, want %s %q", got.Extensions["code"], got.Message, tt.code, tt.msg)
			}
			if s, _ := got.Extensions["server"].(string); s != tt.server {
				t.Errorf("server %q, want %q", s, tt.server)
			}
		})
	}
	// A normal end records nothing; neither does a context without a place for it.
	ctx := WithStreamEnd(context.Background())
	r.endStream(ctx, nil)
	if got := StreamEnd(ctx); got != nil {
		t.Errorf("a normal end recorded %v", got)
	}
	r.endStream(context.Background(), ErrSlowSubscriber) // must not panic
}
