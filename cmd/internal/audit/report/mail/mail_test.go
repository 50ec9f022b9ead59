package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report/mail/mailtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

const (
	testUser     = "reports@contoso.com"
	testPassword = "Sup3r-s3cret-SMTP-pw"
)

// startSink starts the test SMTP server: STARTTLS when tlsOn, AUTH PLAIN (after TLS) for
// testUser/testPassword.
func startSink(t *testing.T, tlsOn bool) (*mailtest.Sink, *x509.CertPool) {
	t.Helper()
	sk := mailtest.Start(t, mailtest.Options{TLS: tlsOn, User: testUser, Password: testPassword, MaxBytes: 1 << 20})
	return sk, sk.Pool
}

func smtpFor(addr, host string, auth bool) config.SMTP {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	s := config.SMTP{Host: host, Port: p, From: "Restore reports <reports@contoso.com>"}
	if auth {
		s.Username, s.PasswordEnv = testUser, "VBO_GATEWAY_SMTP_PASSWORD"
		s = s.WithPassword(testPassword)
	}
	return s
}

// dialTo routes every connection to addr (the sink), whatever host the client names.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

var csv = []byte("initiatedBy,sessions\r\nalice@contoso.com,2\r\n\"=cmd\",1\r\n")

func TestSendDeliversOverSTARTTLS(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "example.com"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			sk, pool := startSink(t, true)
			var logs bytes.Buffer
			m := &Mailer{
				TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
				Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				Dial:      dialTo(sk.Addr),
			}
			s := smtpFor(sk.Addr, host, true)
			s.StartTLS = true
			ctx := WithRecipientCheck(context.Background(), AllowDomains("contoso.com", "fabrikam.com"))
			html := []byte("<!DOCTYPE html><html><body><h1>Weekly restores</h1><p>4 sessions</p></body></html>")
			text := []byte("Weekly restores\n\nTotals: 4 sessions\n")
			err := m.Send(ctx, s, []string{"ops@contoso.com", "Audit@Fabrikam.com", "ops@contoso.com"}, "Restore report: week 28\r\nBcc: x@evil.test",
				html, text, Attachment{Name: "restore-audit-week-28.csv", ContentType: "text/csv; charset=utf-8", Data: csv})
			if err != nil {
				t.Fatalf("Send: %v\nlogs:\n%s", err, logs.String())
			}
			msgs, _ := sk.Messages()
			if len(msgs) != 1 {
				t.Fatalf("sink got %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if !got.TLS || got.User != testUser || got.From != "reports@contoso.com" {
				t.Errorf("tls %v, user %q, from %q", got.TLS, got.User, got.From)
			}
			if strings.Join(got.Rcpts, ",") != "ops@contoso.com,audit@fabrikam.com" {
				t.Errorf("recipients %v", got.Rcpts)
			}
			hdr, body := mailtest.Parts(t, got.Data)
			if subj, _ := new(mime.WordDecoder).DecodeHeader(hdr.Header.Get("Subject")); subj != "Restore report: week 28 Bcc: x@evil.test" {
				t.Errorf("subject %q", subj)
			}
			if hdr.Header.Get("Bcc") != "" {
				t.Errorf("a header was injected through the subject: %v", hdr.Header)
			}
			if !bytes.Equal(body["text/html"], html) || !bytes.Equal(bytes.ReplaceAll(body["text/plain"], []byte("\r\n"), []byte("\n")), text) {
				t.Errorf("parts: html %q, text %q", body["text/html"], body["text/plain"])
			}
			if !bytes.Equal(body["file:restore-audit-week-28.csv"], csv) {
				t.Errorf("CSV attachment %q, want %q (parts %v)", body["file:restore-audit-week-28.csv"], csv, keysOf(body))
			}
			plain := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
			for _, secret := range []string{testPassword, plain} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("the logs hold the password (%q):\n%s", secret, logs.String())
				}
			}
			if !strings.Contains(logs.String(), "STARTTLS") || !strings.Contains(logs.String(), "report email sent") {
				t.Errorf("logs lack the dialogue or the summary line:\n%s", logs.String())
			}
		})
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// STARTTLS is mandatory towards any host but loopback: a server that does not offer it gets
// nothing, not even the credentials.
func TestSendRequiresSTARTTLS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		host     string
		auth     bool
		startTLS bool
		wantSent bool
	}{
		{"remote host without STARTTLS: refused", "example.com", true, false, false},
		{"remote host, no auth, without STARTTLS: refused", "example.com", false, false, false},
		{"loopback asking for STARTTLS: refused", "127.0.0.1", false, true, false},
		{"loopback relay without TLS: allowed", "127.0.0.1", false, false, true},
		{"localhost relay without TLS: allowed", "localhost", false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sk, _ := startSink(t, false)
			var logs bytes.Buffer
			m := &Mailer{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Dial: dialTo(sk.Addr)}
			s := smtpFor(sk.Addr, tc.host, tc.auth)
			s.StartTLS = tc.startTLS
			ctx, cancel := context.WithTimeout(WithRecipientCheck(context.Background(), AllowDomains("contoso.com")), 10*time.Second)
			defer cancel()
			err := m.Send(ctx, s, []string{"ops@contoso.com"}, "r", nil, []byte("text"))
			msgs, _ := sk.Messages()
			if sent := err == nil && len(msgs) == 1; sent != tc.wantSent {
				t.Fatalf("sent %v (err %v, %d messages), want %v", sent, err, len(msgs), tc.wantSent)
			}
			if strings.Contains(logs.String(), testPassword) {
				t.Errorf("the logs hold the password:\n%s", logs.String())
			}
		})
	}
}

func TestSendRefusesRecipients(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		check   RecipientCheck
		to      []string
		address string
		is      error
	}{
		{"domain not allowed", AllowDomains("contoso.com"), []string{"ops@contoso.com", "boss@evil.test"}, "boss@evil.test", nil},
		{"subdomain is not the domain", AllowDomains("contoso.com"), []string{"a@mail.contoso.com"}, "a@mail.contoso.com", nil},
		{"no check supplied", nil, []string{"ops@contoso.com"}, "ops@contoso.com", ErrNoRecipientCheck},
		{"not an address", AllowDomains("contoso.com"), []string{"ops at contoso"}, "ops at contoso", nil},
		{"display names refused", AllowDomains("contoso.com"), []string{"Ops <ops@contoso.com>"}, "Ops <ops@contoso.com>", nil},
		{"header injection", AllowDomains("contoso.com"), []string{"ops@contoso.com\r\nBcc: x@evil.test"}, "ops@contoso.com\r\nBcc: x@evil.test", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sk, _ := startSink(t, false)
			ctx := context.Background()
			if tc.check != nil {
				ctx = WithRecipientCheck(ctx, tc.check)
			}
			m := &Mailer{Logger: slog.New(slog.DiscardHandler)}
			err := m.Send(ctx, smtpFor(sk.Addr, "127.0.0.1", false), tc.to, "r", nil, []byte("t"))
			var re *RecipientError
			if !errors.As(err, &re) || re.Address != tc.address {
				t.Fatalf("err = %v, want a *RecipientError naming %q", err, tc.address)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.is)
			}
			if _, conns := sk.Messages(); conns != 0 {
				t.Errorf("the sink saw %d connections: a refused recipient must stop the message before any connection", conns)
			}
		})
	}
}

func TestSendBadInput(t *testing.T) {
	t.Parallel()
	ctx := WithRecipientCheck(context.Background(), AllowDomains("contoso.com"))
	many := make([]string, MaxRecipients+1)
	for i := range many {
		many[i] = "a" + strconv.Itoa(i) + "@contoso.com"
	}
	cases := []struct {
		name string
		s    config.SMTP
		to   []string
		want string
	}{
		{"not configured", config.SMTP{}, []string{"a@contoso.com"}, "not configured"},
		{"no recipients", config.SMTP{Host: "127.0.0.1", Port: 1, From: "r@contoso.com"}, nil, "no recipients"},
		{"too many recipients", config.SMTP{Host: "127.0.0.1", Port: 1, From: "r@contoso.com"}, many, "at most 50"},
		{"password variable unset", config.SMTP{Host: "127.0.0.1", Port: 1, From: "r@contoso.com", Username: "u", PasswordEnv: "VBO_GATEWAY_TEST_UNSET_SMTP_PW"}, []string{"a@contoso.com"}, "is not set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := (&Mailer{Logger: slog.New(slog.DiscardHandler)}).Send(ctx, tc.s, tc.to, "r", nil, []byte("t"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
