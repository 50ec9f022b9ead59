package schedules

import (
	"context"
	"fmt"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report/mail"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report/summary"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// SummaryBuilder is the Summarizer of report/summary: totals, top people, machines and
// organisations, failed sessions, first-time machines, restores outside business hours, the
// change against the previous periods and the coverage block, as HTML and text.
type SummaryBuilder struct{}

// Summarize builds and renders one run's summary.
func (SummaryBuilder) Summarize(ctx context.Context, in SummaryInput) (html, text string, err error) {
	si := summary.Input{Title: in.Title, Scope: in.Scope, Period: summary.Period(in.Period), Sessions: in.Sessions,
		Coverage: in.Coverage, Complete: in.Complete}
	for _, p := range in.Previous {
		si.Previous = append(si.Previous, summary.Period(p))
	}
	if in.TimeZone != "" {
		bh := summary.DefaultBusinessHours
		bh.TimeZone = in.TimeZone
		si.BusinessHours = &bh
	}
	s, err := summary.Build(ctx, si)
	if err != nil {
		return "", "", fmt.Errorf("summary: %w", err)
	}
	h, err := s.HTML()
	if err != nil {
		return "", "", fmt.Errorf("summary: %w", err)
	}
	return string(h), s.Text(), nil
}

// SMTPMailer is the Mailer of report/mail on one SMTP configuration; Check, when set, is the
// recipient check the mail package applies before anything is sent.
type SMTPMailer struct {
	SMTP  config.SMTP
	Check mail.RecipientCheck
}

// Send sends one report email with its attachments.
func (m SMTPMailer) Send(ctx context.Context, to []string, subject, html, text string, attachments ...Attachment) error {
	if m.Check != nil {
		ctx = mail.WithRecipientCheck(ctx, m.Check)
	}
	as := make([]mail.Attachment, len(attachments))
	for i, a := range attachments {
		as[i] = mail.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data}
	}
	return mail.Send(ctx, m.SMTP, to, subject, []byte(html), []byte(text), as...)
}
