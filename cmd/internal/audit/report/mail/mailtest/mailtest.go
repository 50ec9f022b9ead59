// Package mailtest is the report mail's test helper: an in-process SMTP server
// (github.com/emersion/go-smtp) on loopback that keeps each message it accepts, and a MIME
// reader for what it kept. The mail package's tests and the end-to-end tests share it.
package mailtest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http/httptest"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the sink accepted.
type Message struct {
	From  string
	Rcpts []string
	TLS   bool   // delivered after STARTTLS
	User  string // the AUTH PLAIN user, "" without AUTH
	Data  []byte
}

// Options shape a Sink.
type Options struct {
	// TLS offers STARTTLS with httptest's certificate (valid for 127.0.0.1, ::1, example.com).
	TLS bool
	// User and Password, when User is set, are the one account AUTH PLAIN accepts (offered only
	// after TLS, as go-smtp does); without User no AUTH is offered (a loopback relay).
	User, Password string
	// MaxBytes bounds a message (default 4 MiB).
	MaxBytes int64
}

// Sink is the in-process SMTP server.
type Sink struct {
	// Addr is the loopback address it listens on; Pool trusts its certificate.
	Addr string
	Pool *x509.CertPool

	o     Options
	mu    sync.Mutex
	msgs  []Message
	conns int
}

// Start starts a sink for the test's lifetime.
func Start(t testing.TB, o Options) *Sink {
	t.Helper()
	ts := httptest.NewTLSServer(nil)
	cert := ts.TLS.Certificates[0]
	s := &Sink{o: o, Pool: x509.NewCertPool()}
	s.Pool.AddCert(ts.Certificate())
	ts.Close()
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	srv.MaxMessageBytes = o.MaxBytes
	if srv.MaxMessageBytes == 0 {
		srv.MaxMessageBytes = 4 << 20
	}
	if o.TLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Messages are the messages accepted so far; Conns the connections made.
func (s *Sink) Messages() ([]Message, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...), s.conns
}

// NewSession implements smtp.Backend.
func (s *Sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	if s.o.User != "" {
		return &authSession{session{sink: s, conn: c}}, nil
	}
	return &session{sink: s, conn: c}, nil
}

type session struct {
	sink *Sink
	conn *smtp.Conn
	cur  Message
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.cur.From = from; return nil }

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.cur.Rcpts = append(x.cur.Rcpts, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, x.cur.TLS = x.conn.TLSConnectionState()
	x.cur.Data = b
	x.sink.mu.Lock()
	x.sink.msgs = append(x.sink.msgs, x.cur)
	x.sink.mu.Unlock()
	x.Reset()
	return nil
}

// Reset keeps the authenticated user: a connection authenticates once.
func (x *session) Reset()        { x.cur = Message{User: x.cur.User} }
func (x *session) Logout() error { return nil }

// authSession is a session that offers AUTH PLAIN for the sink's one account.
type authSession struct{ session }

func (x *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != x.sink.o.User || password != x.sink.o.Password {
			return errors.New("invalid credentials")
		}
		x.cur.User = username
		return nil
	}), nil
}

// Parts reads a MIME message: its header, and each leaf part's decoded body by content type,
// attachments by "file:" and their file name.
func Parts(t testing.TB, raw []byte) (*netmail.Message, map[string][]byte) {
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

// Attachments are a message's attachments by file name, decoded.
func Attachments(t testing.TB, raw []byte) map[string][]byte {
	t.Helper()
	_, parts := Parts(t, raw)
	out := map[string][]byte{}
	for k, b := range parts {
		if name, ok := strings.CutPrefix(k, "file:"); ok {
			out[name] = b
		}
	}
	return out
}
