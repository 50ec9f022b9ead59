// Package mail sends a scheduled report by email: an HTML part with its plain-text alternative
// and attachments (the CSV), through the SMTP server of the configuration's email.smtp, with
// github.com/wneessen/go-mail. STARTTLS is mandatory unless the server is on a loopback address
// (a local relay); every recipient passes the caller's check first (a tenant's allowed
// domains), or nothing is sent; the password comes from the environment and is never logged.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/netip"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gomaillog "github.com/wneessen/go-mail/log"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// Limits on one message.
const (
	// MaxRecipients is the most addresses one report goes to.
	MaxRecipients = 50
	// MaxSubjectLen bounds the subject (longer ones are cut).
	MaxSubjectLen = 200
	// DefaultTimeout bounds the connection and each SMTP command when ctx has no earlier deadline.
	DefaultTimeout = 30 * time.Second
)

// Attachment is a file attached to the message.
type Attachment struct {
	// Name is the file name shown, e.g. restore-audit-2026-07-06.csv.
	Name string
	// ContentType, e.g. "text/csv; charset=utf-8" (default application/octet-stream).
	ContentType string
	Data        []byte
}

// RecipientError refuses a recipient: malformed, or not allowed by the caller's check.
// Nothing is sent when any recipient is refused.
type RecipientError struct {
	Address string
	// Err is why (the check's error, or the parse error).
	Err error
}

func (e *RecipientError) Error() string {
	return fmt.Sprintf("mail: recipient %q refused: %v", e.Address, e.Err)
}

func (e *RecipientError) Unwrap() error { return e.Err }

// ErrNoRecipientCheck is the reason every recipient is refused when the context carries no
// check (WithRecipientCheck): a report never goes to an address nobody vetted.
var ErrNoRecipientCheck = errors.New("no recipient check was supplied (mail.WithRecipientCheck)")

// RecipientCheck accepts an address (lower-case addr-spec, e.g. ops@contoso.com) or returns why not.
type RecipientCheck func(address string) error

type checkKey struct{}

// WithRecipientCheck returns ctx carrying check, which Send applies to every recipient (for
// example, the schedule owner's allowed domains). Without one Send refuses every recipient.
func WithRecipientCheck(ctx context.Context, check RecipientCheck) context.Context {
	return context.WithValue(ctx, checkKey{}, check)
}

// AllowDomains is a RecipientCheck accepting addresses in the given domains (case-insensitive,
// exact: sub.example.com is not example.com).
func AllowDomains(domains ...string) RecipientCheck {
	set := map[string]bool{}
	for _, d := range domains {
		set[strings.ToLower(strings.TrimSpace(d))] = true
	}
	return func(address string) error {
		_, domain, _ := strings.Cut(address, "@")
		if !set[strings.ToLower(domain)] {
			return fmt.Errorf("domain %q is not allowed", domain)
		}
		return nil
	}
}

// Mailer sends messages; the zero value is ready (system roots, slog.Default).
type Mailer struct {
	// TLSConfig for STARTTLS (nil: system roots, server name from the host). Tests set RootCAs.
	TLSConfig *tls.Config
	// Logger receives one line per message and, at debug level, the SMTP dialogue (with any
	// authentication data redacted). Nil: slog.Default().
	Logger *slog.Logger
	// Dial connects to the server (nil: a net.Dialer). Tests route a host name to a sink.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Send sends one message with the zero Mailer; see Mailer.Send.
func Send(ctx context.Context, s config.SMTP, to []string, subject string, html, text []byte, attachments ...Attachment) error {
	var m Mailer
	return m.Send(ctx, s, to, subject, html, text, attachments...)
}

// Send checks every recipient (WithRecipientCheck on ctx), then sends one message to all of
// them through s: the text part with the HTML as its alternative, then the attachments.
func (m *Mailer) Send(ctx context.Context, s config.SMTP, to []string, subject string, html, text []byte, attachments ...Attachment) error {
	if !s.Enabled() {
		return errors.New("mail: email.smtp is not configured")
	}
	rcpts, err := recipients(ctx, to)
	if err != nil {
		return err
	}
	msg, err := message(s, rcpts, subject, html, text, attachments)
	if err != nil {
		return err
	}
	log := m.Logger
	if log == nil {
		log = slog.Default()
	}
	c, err := m.client(ctx, s, log)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		log.WarnContext(ctx, "report email not sent", "smtp", s.String(), "recipients", len(rcpts), "err", err.Error())
		return fmt.Errorf("mail: sending to %s:%d: %w", s.Host, s.Port, err)
	}
	log.InfoContext(ctx, "report email sent", "smtp", s.String(), "recipients", len(rcpts),
		"attachments", len(attachments), "duration", time.Since(start))
	return nil
}

// recipients parses, de-duplicates and checks the addresses.
func recipients(ctx context.Context, to []string) ([]string, error) {
	if len(to) == 0 {
		return nil, errors.New("mail: no recipients")
	}
	if len(to) > MaxRecipients {
		return nil, fmt.Errorf("mail: %d recipients, at most %d", len(to), MaxRecipients)
	}
	check, _ := ctx.Value(checkKey{}).(RecipientCheck)
	seen := map[string]bool{}
	var out []string
	for _, raw := range to {
		a, err := netmail.ParseAddress(raw)
		if err != nil || a.Name != "" || strings.ContainsAny(a.Address, "\r\n") {
			if err == nil {
				err = errors.New("want a bare address (name@domain)")
			}
			return nil, &RecipientError{Address: raw, Err: err}
		}
		addr := strings.ToLower(a.Address)
		if check == nil {
			return nil, &RecipientError{Address: addr, Err: ErrNoRecipientCheck}
		}
		if err := check(addr); err != nil {
			return nil, &RecipientError{Address: addr, Err: err}
		}
		if !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	return out, nil
}

func message(s config.SMTP, to []string, subject string, html, text []byte, attachments []Attachment) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.From); err != nil {
		return nil, fmt.Errorf("mail: from %q: %w", s.From, err)
	}
	if err := msg.To(to...); err != nil {
		return nil, fmt.Errorf("mail: recipients: %w", err)
	}
	subject = strings.Join(strings.Fields(subject), " ") // no CR/LF, no runs of blanks
	if r := []rune(subject); len(r) > MaxSubjectLen {
		subject = string(r[:MaxSubjectLen])
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, string(text))
	if len(html) > 0 {
		msg.AddAlternativeString(gomail.TypeTextHTML, string(html))
	}
	for _, a := range attachments {
		name := strings.Map(func(r rune) rune {
			if r < 0x20 || r == '/' || r == '\\' || r == '"' {
				return '_'
			}
			return r
		}, a.Name)
		if name == "" {
			return nil, errors.New("mail: an attachment has no name")
		}
		ct := gomail.TypeAppOctetStream
		if a.ContentType != "" {
			ct = gomail.ContentType(a.ContentType)
		}
		msg.AttachReadSeeker(name, bytes.NewReader(a.Data), gomail.WithFileContentType(ct))
	}
	return msg, nil
}

func (m *Mailer) client(ctx context.Context, s config.SMTP, log *slog.Logger) (*gomail.Client, error) {
	policy := gomail.TLSMandatory
	if isLoopback(s.Host) && !s.StartTLS {
		policy = gomail.TLSOpportunistic
	}
	tc := &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
	if m.TLSConfig != nil {
		tc = m.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = s.Host
		}
	}
	timeout := DefaultTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	opts := []gomail.Option{
		gomail.WithPort(s.Port),
		gomail.WithTLSPolicy(policy),
		gomail.WithTLSConfig(tc),
		gomail.WithTimeout(timeout),
		gomail.WithDebugLog(),
		gomail.WithLogger(slogAdapter{ctx: ctx, log: log}),
	}
	if m.Dial != nil {
		opts = append(opts, gomail.WithDialContextFunc(m.Dial))
	}
	if s.Username != "" {
		pw := s.Password()
		if pw == "" && s.PasswordEnv != "" {
			pw = os.Getenv(s.PasswordEnv)
		}
		if pw == "" {
			return nil, fmt.Errorf("mail: no SMTP password: environment variable %s is not set", s.PasswordEnv)
		}
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username), gomail.WithPassword(pw))
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP client for %s:%d: %w", s.Host, s.Port, err)
	}
	return c, nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}

// slogAdapter writes go-mail's SMTP dialogue (authentication data already redacted by go-mail)
// to slog at debug level.
type slogAdapter struct {
	ctx context.Context
	log *slog.Logger
}

func (a slogAdapter) write(level slog.Level, l gomaillog.Log) {
	if !a.log.Enabled(a.ctx, level) {
		return
	}
	dir := "server"
	if l.Direction == gomaillog.DirClientToServer {
		dir = "client"
	}
	a.log.Log(a.ctx, level, "smtp", "from", dir, "line", fmt.Sprintf(l.Format, l.Messages...))
}

func (a slogAdapter) Debugf(l gomaillog.Log) { a.write(slog.LevelDebug, l) }
func (a slogAdapter) Infof(l gomaillog.Log)  { a.write(slog.LevelDebug, l) }
func (a slogAdapter) Warnf(l gomaillog.Log)  { a.write(slog.LevelWarn, l) }
func (a slogAdapter) Errorf(l gomaillog.Log) { a.write(slog.LevelError, l) }
