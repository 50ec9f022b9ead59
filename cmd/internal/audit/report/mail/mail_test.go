package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http/httptest"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

const (
	testUser     = "reports@contoso.com"
	testPassword = "Sup3r-s3cret-SMTP-pw"
)

// received is one message the sink accepted.
type received struct {
	from  string
	rcpts []string
	tls   bool
	user  string
	data  []byte
}

// sink is an in-process SMTP server (github.com/emersion/go-smtp) on loopback: STARTTLS with
// the test certificate when tlsOn, AUTH PLAIN (only after TLS) with testUser/testPassword.
type sink struct {
	addr     string
	mu       sync.Mutex
	messages []received
	conns    int
}

func startSink(t *testing.T, tlsOn bool) (*sink, *x509.CertPool) {
	t.Helper()
	// httptest's certificate is valid for 127.0.0.1, ::1 and example.com.
	ts := httptest.NewTLSServer(nil)
	cert, pool := ts.TLS.Certificates[0], x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	ts.Close()

	s := &sink{}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	srv.MaxMessageBytes = 1 << 20
	if tlsOn {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s, pool
}

func (s *sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &session{sink: s, conn: c}, nil
}

func (s *sink) got() ([]received, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.messages...), s.conns
}

type session struct {
	sink *sink
	conn *smtp.Conn
	cur  received
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != testUser || password != testPassword {
			return errors.New("invalid credentials")
		}
		x.cur.user = username
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.cur.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.cur.rcpts = append(x.cur.rcpts, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, x.cur.tls = x.conn.TLSConnectionState()
	x.cur.data = b
	x.sink.mu.Lock()
	x.sink.messages = append(x.sink.messages, x.cur)
	x.sink.mu.Unlock()
	x.cur = received{user: x.cur.user}
	return nil
}

func (x *session) Reset()        { x.cur = received{user: x.cur.user} }
func (x *session) Logout() error { return nil }

// parts walks a MIME message and returns each leaf part's decoded body by content type (and
// attachments by file name).
func parts(t *testing.T, raw []byte) (*netmail.Message, map[string][]byte) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, raw)
	}
	out := map[string][]byte{}
	var walk func(ct, cte, disp string, body io.Reader)
	walk = func(ct, cte, disp string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p)
			}
		}
		switch strings.ToLower(cte) {
		case "quoted-printable":
			body = quotedprintable.NewReader(body)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		key := mt
		if _, dp, err := mime.ParseMediaType(disp); err == nil && dp["filename"] != "" {
			key = "file:" + dp["filename"]
		}
		out[key] = b
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), "", m.Body)
	return m, out
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
				Dial:      dialTo(sk.addr),
			}
			s := smtpFor(sk.addr, host, true)
			s.StartTLS = true
			ctx := WithRecipientCheck(context.Background(), AllowDomains("contoso.com", "fabrikam.com"))
			html := []byte("<!DOCTYPE html><html><body><h1>Weekly restores</h1><p>4 sessions</p></body></html>")
			text := []byte("Weekly restores\n\nTotals: 4 sessions\n")
			err := m.Send(ctx, s, []string{"ops@contoso.com", "Audit@Fabrikam.com", "ops@contoso.com"}, "Restore report: week 28\r\nBcc: x@evil.test",
				html, text, Attachment{Name: "restore-audit-week-28.csv", ContentType: "text/csv; charset=utf-8", Data: csv})
			if err != nil {
				t.Fatalf("Send: %v\nlogs:\n%s", err, logs.String())
			}
			msgs, _ := sk.got()
			if len(msgs) != 1 {
				t.Fatalf("sink got %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if !got.tls || got.user != testUser || got.from != "reports@contoso.com" {
				t.Errorf("tls %v, user %q, from %q", got.tls, got.user, got.from)
			}
			if strings.Join(got.rcpts, ",") != "ops@contoso.com,audit@fabrikam.com" {
				t.Errorf("recipients %v", got.rcpts)
			}
			hdr, body := parts(t, got.data)
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
			m := &Mailer{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Dial: dialTo(sk.addr)}
			s := smtpFor(sk.addr, tc.host, tc.auth)
			s.StartTLS = tc.startTLS
			ctx, cancel := context.WithTimeout(WithRecipientCheck(context.Background(), AllowDomains("contoso.com")), 10*time.Second)
			defer cancel()
			err := m.Send(ctx, s, []string{"ops@contoso.com"}, "r", nil, []byte("text"))
			msgs, _ := sk.got()
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
			err := m.Send(ctx, smtpFor(sk.addr, "127.0.0.1", false), tc.to, "r", nil, []byte("t"))
			var re *RecipientError
			if !errors.As(err, &re) || re.Address != tc.address {
				t.Fatalf("err = %v, want a *RecipientError naming %q", err, tc.address)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.is)
			}
			if _, conns := sk.got(); conns != 0 {
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
