package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// ReceiverPath is the path of the receiver's URL (any path is accepted; this is the one
// printed and used in the examples).
const ReceiverPath = "/webhooks/demo"

// ReportReady is the event type of a report schedule's delivery, which names its schedule
// (data.scheduleId) instead of a rule; ReceiverOptions.Secrets is asked for that id.
const ReportReady = "report.ready"

// ReceiverNetwork is the only private network demo rules may deliver to: the receiver's.
const ReceiverNetwork = "127.0.0.1/32"

// Bounds of the receiver.
const (
	maxDeliveryBody = 4 << 20 // bytes of one delivery's body
	maxKept         = 256     // deliveries kept for Deliveries, the newest
)

// Signature outcomes of a delivery.
const (
	// SignatureVerified: a v1 signature in webhook-signature verifies with one of the rule's
	// secrets, and webhook-timestamp is within the Standard Webhooks tolerance (5 minutes).
	SignatureVerified = "verified"
	// SignatureUnchecked: the rule's secrets were not available (no lookup, or the rule is
	// gone); the delivery is recorded as received.
	SignatureUnchecked = "unchecked"
	// SignatureInvalid: no signature verifies; the receiver answers 401.
	SignatureInvalid = "invalid"
)

// ReceiverPolicy is the webhooks configuration that lets rules reach the receiver and no
// other private address: http, and the single loopback address it listens on.
func ReceiverPolicy() config.Webhooks {
	return config.Webhooks{AllowHTTP: true, AllowPrivateNetworks: []string{ReceiverNetwork}}
}

// ReceiverOptions configure the demo webhook receiver.
type ReceiverOptions struct {
	// Logger receives one info line per delivery (default slog.Default()).
	Logger *slog.Logger
	// Secrets returns the secrets that sign a rule's deliveries now, to verify each delivery
	// with (the gateway's watchrules.Service.SigningSecrets; for report.ready the schedule's,
	// schedules.Service.SigningSecrets). Nil, or an error: deliveries
	// are recorded and logged as SignatureUnchecked.
	Secrets func(ctx context.Context, ruleID string) ([]webhooks.Secret, error)
}

// Delivery is one request the receiver got.
type Delivery struct {
	Received time.Time
	Path     string
	Header   http.Header
	Body     []byte
	// From the payload: the rule (a report schedule's id for report.ready), the event type and
	// the session's global id ("" for a webhook.test or report.ready delivery).
	RuleID, RuleName, Type, Session string
	// Signature is SignatureVerified, SignatureUnchecked or SignatureInvalid.
	Signature string
}

// Receiver is the demo's webhook receiver: an HTTP server on 127.0.0.1 that checks each
// delivery's Standard Webhooks signature with its rule's secret (with the specification's own
// Go library, independently of the gateway's signing code), logs it, and keeps the newest.
type Receiver struct {
	srv     *http.Server
	url     string
	logger  *slog.Logger
	secrets func(ctx context.Context, ruleID string) ([]webhooks.Secret, error)

	mu  sync.Mutex
	got []Delivery
}

// StartReceiver starts a receiver on a free loopback port.
func StartReceiver(o ReceiverOptions) (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: webhook receiver: listen: %w", err)
	}
	r := &Receiver{url: "http://" + ln.Addr().String() + ReceiverPath, logger: o.Logger, secrets: o.Secrets}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.logger.Error("demo webhook receiver stopped", "err", err)
		}
	}()
	return r, nil
}

// URL is the receiver's address for a rule's url.
func (r *Receiver) URL() string { return r.url }

// Deliveries returns the deliveries received so far (at most the newest 256), oldest first.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Close stops the receiver.
func (r *Receiver) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

// deliveryPayload is the part of a delivery's body the receiver reads.
type deliveryPayload struct {
	Type string `json:"type"`
	Rule struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rule"`
	Data *struct {
		ID           string `json:"id"`
		ScheduleID   string `json:"scheduleId"` // report.ready
		Organization struct {
			Name string `json:"name"`
		} `json:"organization"`
	} `json:"data"`
}

// ServeHTTP answers 204 to a delivery it accepts, 401 to one whose signature does not verify.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhook deliveries are POSTed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxDeliveryBody))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	var p deliveryPayload
	if err := json.Unmarshal(body, &p); err != nil {
		r.logger.Warn("demo webhook receiver: not a JSON delivery", "path", req.URL.Path, "err", err)
		http.Error(w, "the body is not JSON", http.StatusBadRequest)
		return
	}
	d := Delivery{Received: time.Now(), Path: req.URL.Path, Header: req.Header.Clone(), Body: body,
		RuleID: p.Rule.ID, RuleName: p.Rule.Name, Type: p.Type}
	var org string
	if p.Data != nil {
		d.Session, org = p.Data.ID, p.Data.Organization.Name
		if p.Type == ReportReady && d.RuleID == "" { // a report schedule's: signed with its secret
			d.RuleID, d.Session = p.Data.ScheduleID, ""
		}
	}
	var why error
	d.Signature, why = r.verify(req.Context(), d.RuleID, body, req.Header)
	r.record(d)
	attrs := []any{"rule", d.RuleID, "ruleName", d.RuleName, "type", d.Type, "session", d.Session,
		"organization", org, "webhookId", req.Header.Get(webhooks.HeaderID), "signature", d.Signature}
	if why != nil {
		attrs = append(attrs, "reason", why.Error())
	}
	if d.Signature == SignatureInvalid {
		r.logger.Warn("demo webhook receiver: delivery refused, bad signature", attrs...)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.logger.Info("demo webhook receiver: delivery received", attrs...)
	w.WriteHeader(http.StatusNoContent)
}

// verify checks the delivery's signature against the rule's secrets.
func (r *Receiver) verify(ctx context.Context, ruleID string, body []byte, h http.Header) (string, error) {
	if r.secrets == nil {
		return SignatureUnchecked, errors.New("no secret lookup")
	}
	if ruleID == "" {
		return SignatureInvalid, errors.New("the payload names no rule")
	}
	secrets, err := r.secrets(ctx, ruleID)
	if err != nil {
		return SignatureUnchecked, fmt.Errorf("the rule's secret: %w", err)
	}
	var last error = errors.New("the rule has no secret")
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s.Reveal())
		if err != nil {
			return SignatureInvalid, err
		}
		if last = wh.Verify(body, h); last == nil {
			return SignatureVerified, nil
		}
	}
	return SignatureInvalid, last
}

func (r *Receiver) record(d Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == maxKept {
		r.got = slices.Delete(r.got, 0, 1)
	}
	r.got = append(r.got, d)
}
