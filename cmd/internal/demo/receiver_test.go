package demo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
)

func mustSecret(t *testing.T) webhooks.Secret {
	t.Helper()
	s, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The receiver verifies each delivery with its rule's secrets (the Standard Webhooks library,
// against the gateway's own signing), answers 204 or 401, records it, and logs it.
func TestReceiverVerifiesDeliveries(t *testing.T) {
	current, previous, stranger := mustSecret(t), mustSecret(t), mustSecret(t)
	const body = `{"type":"restore.session.started","rule":{"id":"wr_1","name":"unknown machine"},"data":{"id":"UmVzdG9yZVNlc3Npb246c3lkMTp4","organization":{"name":"Contoso"}}}`
	lookup := func(_ context.Context, id string) ([]webhooks.Secret, error) {
		switch id {
		case "wr_1":
			return []webhooks.Secret{current, previous}, nil
		case "wr_no_secret":
			return nil, nil
		}
		return nil, errors.New("no such rule")
	}
	for _, tc := range []struct {
		name     string
		method   string
		body     string
		keys     []webhooks.Secret
		at       time.Time
		noLookup bool
		code     int
		outcome  string // recorded signature outcome; "" for nothing recorded
		reason   string // in the log line, when set
	}{
		{name: "signed with the current secret", keys: []webhooks.Secret{current}, code: 204, outcome: SignatureVerified},
		{name: "signed with the previous secret during a rotation", keys: []webhooks.Secret{previous}, code: 204, outcome: SignatureVerified},
		{name: "signed with another secret", keys: []webhooks.Secret{stranger}, code: 401, outcome: SignatureInvalid},
		{name: "unsigned", code: 401, outcome: SignatureInvalid},
		{name: "a stale timestamp", keys: []webhooks.Secret{current}, at: time.Now().Add(-10 * time.Minute), code: 401, outcome: SignatureInvalid},
		{name: "an unknown rule", body: strings.Replace(body, "wr_1", "wr_gone", 1), keys: []webhooks.Secret{current}, code: 204, outcome: SignatureUnchecked},
		{name: "no secret lookup", noLookup: true, keys: []webhooks.Secret{stranger}, code: 204, outcome: SignatureUnchecked},
		{name: "a payload naming no rule", body: `{"type":"webhook.test"}`, keys: []webhooks.Secret{current}, code: 401,
			outcome: SignatureInvalid, reason: "the payload names no rule"},
		{name: "a rule without secrets", body: strings.Replace(body, "wr_1", "wr_no_secret", 1), keys: []webhooks.Secret{current}, code: 401,
			outcome: SignatureInvalid, reason: "the rule has no secret"},
		{name: "not JSON", body: "hello", keys: []webhooks.Secret{current}, code: 400},
		{name: "not a POST", method: http.MethodGet, code: 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			o := ReceiverOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Secrets: lookup}
			if tc.noLookup {
				o.Secrets = nil
			}
			r, err := StartReceiver(o)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if !strings.HasPrefix(r.URL(), "http://127.0.0.1:") || !strings.HasSuffix(r.URL(), ReceiverPath) {
				t.Fatalf("URL %s", r.URL())
			}
			b := []byte(tc.body)
			if tc.body == "" {
				b = []byte(body)
			}
			req, _ := http.NewRequest(cmp.Or(tc.method, http.MethodPost), r.URL(), bytes.NewReader(b))
			if len(tc.keys) > 0 {
				webhooks.SetHeaders(req.Header, tc.keys, "msg_1", cmp.Or(tc.at, time.Now()), b)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
			got := r.Deliveries()
			if tc.outcome == "" {
				if len(got) != 0 {
					t.Errorf("recorded %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("recorded %d deliveries, want 1", len(got))
			}
			d := got[0]
			if d.Signature != tc.outcome || !bytes.Equal(d.Body, b) || d.Header.Get("webhook-id") != headerOr(tc.keys, "msg_1") {
				t.Errorf("recorded %s, %q, webhook-id %q", d.Signature, d.Body, d.Header.Get("webhook-id"))
			}
			if tc.body == "" && (d.Type != "restore.session.started" || d.RuleID != "wr_1" || d.Session != "UmVzdG9yZVNlc3Npb246c3lkMTp4") {
				t.Errorf("recorded %+v", d)
			}
			line := `"signature":"` + tc.outcome + `"`
			if !strings.Contains(logs.String(), line) || !strings.Contains(logs.String(), `"rule":"`) {
				t.Errorf("log %s lacks %s", logs.String(), line)
			}
			if tc.reason != "" && !strings.Contains(logs.String(), `"reason":"`+tc.reason+`"`) {
				t.Errorf("log %s lacks the reason %q", logs.String(), tc.reason)
			}
			if tc.code == 204 && !strings.Contains(logs.String(), `"level":"INFO","msg":"demo webhook receiver: delivery received"`) {
				t.Errorf("no info line: %s", logs.String())
			}
		})
	}
}

func headerOr(keys []webhooks.Secret, id string) string {
	if len(keys) == 0 {
		return ""
	}
	return id
}

// The receiver keeps the newest deliveries only.
func TestReceiverKeepsTheNewest(t *testing.T) {
	r, err := StartReceiver(ReceiverOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range maxKept + 3 {
		body := `{"type":"webhook.test","rule":{"id":"wr_` + string(rune('a'+i%26)) + `"}}`
		resp, err := http.Post(r.URL(), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := r.Deliveries()
	if len(got) != maxKept || got[0].RuleID != "wr_d" {
		t.Fatalf("kept %d, the oldest %s: want %d from wr_d", len(got), got[0].RuleID, maxKept)
	}
}

// With a receiver, the demo's configuration lets rules reach 127.0.0.1 over http and no
// other private address; without one, the webhook defaults stay. Close stops the receiver.
// Each demo tenant has an auditor key and an admin key.
func TestStartWithReceiver(t *testing.T) {
	plain, err := Start(Options{Orgs: 4, Sessions: 5})
	if err != nil {
		t.Fatal(err)
	}
	plain.Close()
	if plain.Receiver != nil || plain.Config.Webhooks.AllowHTTP || len(plain.Config.Webhooks.AllowPrivateNetworks) != 0 {
		t.Errorf("without a receiver: %+v, webhooks %+v", plain.Receiver, plain.Config.Webhooks)
	}
	f, err := Start(Options{Orgs: 4, Sessions: 5, Receiver: &ReceiverOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	w := f.Config.Webhooks
	if f.Receiver == nil || !w.AllowHTTP || !slices.Equal(w.AllowPrivateNetworks, []string{"127.0.0.1/32"}) {
		t.Errorf("receiver %v, webhooks %+v", f.Receiver, w)
	}
	if err := f.Config.Webhooks.WithDefaults().Validate(); err != nil {
		t.Error(err)
	}
	var roles []string
	for _, k := range f.Config.Auth.APIKeys {
		roles = append(roles, k.Name+"="+k.Tenant+"/"+k.Role)
		if k.SHA256 != KeySHA256(k.Name) {
			t.Errorf("key %s: its hash is not the hash of its name", k.Name)
		}
	}
	want := []string{"demo-admin=/PROVIDER_ADMIN",
		"demo-tenant-1=tenant-1/", "demo-tenant-1-admin=tenant-1/TENANT_ADMIN", "demo-tenant-1-operator=tenant-1/RESTORE_OPERATOR",
		"demo-tenant-2=tenant-2/", "demo-tenant-2-admin=tenant-2/TENANT_ADMIN", "demo-tenant-2-operator=tenant-2/RESTORE_OPERATOR",
		"demo-tenant-3=tenant-3/", "demo-tenant-3-admin=tenant-3/TENANT_ADMIN", "demo-tenant-3-operator=tenant-3/RESTORE_OPERATOR"}
	if !slices.Equal(roles, want) {
		t.Errorf("keys %v, want %v", roles, want)
	}
	url := f.Receiver.URL()
	f.Close()
	if resp, err := http.Post(url, "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
		t.Error("the receiver still answers after Close")
	}
}
