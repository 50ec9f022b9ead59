package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// Record collects what one request did, for its access line. The HTTP middleware creates it;
// the GraphQL extension and the upstream transport fill it in. Safe for concurrent use.
type Record struct {
	upstreamCalls atomic.Int64

	mu        sync.Mutex
	operation string
	subject   string
	tenant    string
	codes     []string
	cost      json.RawMessage
	client    string // the client's address as the edge found it (SetClient)
}

type recordKey struct{}

// WithRecord stores rec in ctx.
func WithRecord(ctx context.Context, rec *Record) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

// RecordFrom returns the request's record, or nil outside a request.
func RecordFrom(ctx context.Context) *Record {
	r, _ := ctx.Value(recordKey{}).(*Record)
	return r
}

func (r *Record) countUpstream() {
	if r != nil {
		r.upstreamCalls.Add(1)
	}
}

// UpstreamCalls is the number of HTTP requests sent to VBO servers for the request so far.
func (r *Record) UpstreamCalls() int64 { return r.upstreamCalls.Load() }

func (r *Record) setOperation(name, subject, tenant string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.operation, r.subject, r.tenant = name, subject, tenant
}

// SetClient records the client's address as the edge found it (behind the trusted proxies),
// for the access line's remote. Nothing outside a request (nil record).
func (r *Record) SetClient(addr string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.client = addr
}

func (r *Record) clientAddr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.client
}

func (r *Record) setResult(codes []string, cost json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range codes {
		if !slices.Contains(r.codes, c) {
			r.codes = append(r.codes, c)
		}
	}
	if cost != nil {
		r.cost = cost
	}
}

func (r *Record) snapshot() (op, subject, tenant string, codes []string, cost json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.operation, r.subject, r.tenant, slices.Clone(r.codes), r.cost
}

// maxRequestIDLen bounds an incoming X-Request-Id that is kept.
const maxRequestIDLen = 128

// RequestID returns the request's id: a valid incoming X-Request-Id (1 to 128 characters of
// letters, digits and - _ . : / + =) is kept, so a caller's or proxy's id carries through;
// anything else is replaced by 16 random hex digits.
func RequestID(h http.Header) string {
	if id := h.Get("X-Request-Id"); validRequestID(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}
