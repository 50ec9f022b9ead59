// Package summary builds the human-readable summary of a scheduled restore audit report: the
// totals of one period, its top people, machines and organisations, its failed sessions, the
// machines seen for the first time, the restores outside business hours, the change against up
// to four earlier periods, and what the archive covers. It reads sessions only through the
// Sessions function it is given (the scoped archive reader), so it sees exactly the report's
// scope, and renders as self-contained HTML (inline CSS, no scripts) and as plain text for email.
package summary

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Limits that keep a summary bounded whatever the archive holds.
const (
	// MaxPrevious is how many earlier periods a summary compares against.
	MaxPrevious = 4
	// TopN is the length of each top list.
	TopN = 10
	// MaxListed caps the failed, first-time-machine and outside-hours lists (the totals still
	// count them all).
	MaxListed = 50
	// MaxDistinct caps the distinct people, machines and organisations counted per period; past
	// it the rest are counted under Others and the summary says so.
	MaxDistinct = 100_000
)

// Others is the key sessions are counted under once MaxDistinct keys are held.
const Others = "(others)"

// Period is a report window, from inclusive to exclusive, with its label ("week 31, 2026").
type Period struct {
	From, To time.Time
	Label    string
}

// Input is what a summary is built from.
type Input struct {
	Title, Scope string
	Period       Period
	// Previous are up to MaxPrevious earlier periods, newest first.
	Previous []Period
	// Sessions streams the sessions started in [from, to) within the report's scope (the scoped
	// archive reader: report.Archive.Sessions bound to a query).
	Sessions func(ctx context.Context, from, to time.Time, each func(*match.Session) error) error
	// Coverage is what the archive holds for each server; Complete is whether it covers Period.
	Coverage []*model.RestoreAuditCoverage
	Complete bool
	// BusinessHours decides "outside business hours"; nil: 08:00-18:00 Monday to Friday, UTC.
	BusinessHours *match.BusinessHours
}

// DefaultBusinessHours are the hours used when Input.BusinessHours is nil.
var DefaultBusinessHours = match.BusinessHours{TimeZone: "UTC", Start: "08:00", End: "18:00"}

// Totals are a period's counts.
type Totals struct {
	Sessions, Items, Bytes int64
}

// Count is one key's share of a period (a type, a result, a person...).
type Count struct {
	Key string
	Totals
}

// SessionLine is one listed session.
type SessionLine struct {
	ID           string
	Started      time.Time
	Organization string
	InitiatedBy  string
	Machine      string
	Type         model.RestoreSessionType
	Result       model.RestoreSessionResult
	Items, Bytes int64
	Reason       string
}

// Change is the period against one earlier period.
type Change struct {
	Period Period
	// Previous are the earlier period's totals.
	Previous Totals
	// Sessions, Items and Bytes are this period's minus the earlier one's.
	Sessions, Items, Bytes int64
	// SessionsPct, ItemsPct and BytesPct are the change in percent; nil when the earlier
	// period had none (no percentage of zero).
	SessionsPct, ItemsPct, BytesPct *float64
}

// Coverage is one server's coverage line.
type Coverage struct {
	Server   string
	From, To *time.Time
	Complete bool
}

// Summary is a built report summary; HTML and Text render it.
type Summary struct {
	Title, Scope string
	Period       Period
	Complete     bool
	// BusinessHours describes the hours "outside" is measured against.
	BusinessHours string

	Totals   Totals
	ByType   []Count
	ByResult []Count

	TopPeople, TopMachines, TopOrganizations []Count

	// Failed lists failed sessions (at most MaxListed, oldest first); FailedTotal counts all.
	Failed      []SessionLine
	FailedTotal int
	// FirstTimeMachines lists machines not seen in the earlier periods, by first session.
	FirstTimeMachines      []SessionLine
	FirstTimeMachinesTotal int
	// OutsideHours lists sessions started outside business hours.
	OutsideHours      []SessionLine
	OutsideHoursTotal int

	Changes  []Change
	Coverage []Coverage
	// Truncated is set when a period held more than MaxDistinct people, machines or
	// organisations (the top lists count the rest under Others; first-time machines may be
	// over-reported).
	Truncated bool
}

// Build reads the period and the earlier ones through in.Sessions and computes the summary.
func Build(ctx context.Context, in Input) (*Summary, error) {
	if in.Sessions == nil {
		return nil, errors.New("summary: no Sessions reader")
	}
	if !in.Period.From.Before(in.Period.To) {
		return nil, fmt.Errorf("summary: period %s..%s is empty", in.Period.From.Format(time.RFC3339), in.Period.To.Format(time.RFC3339))
	}
	if len(in.Previous) > MaxPrevious {
		return nil, fmt.Errorf("summary: %d earlier periods, at most %d", len(in.Previous), MaxPrevious)
	}
	bh := DefaultBusinessHours
	if in.BusinessHours != nil {
		bh = *in.BusinessHours
	}
	outside, err := outsideFunc(bh)
	if err != nil {
		return nil, err
	}
	s := &Summary{
		Title: in.Title, Scope: in.Scope, Period: in.Period, Complete: in.Complete,
		BusinessHours: describeHours(bh),
		Coverage:      coverage(in.Coverage),
	}

	seen := newKeySet()
	prev := make([]Totals, len(in.Previous))
	for i, p := range in.Previous {
		err := in.Sessions(ctx, p.From, p.To, func(x *match.Session) error {
			prev[i].add(x)
			seen.add(machineKey(x))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("summary: reading %s: %w", labelOf(p), err)
		}
	}
	s.Truncated = seen.full

	a := newAggregate()
	err = in.Sessions(ctx, in.Period.From, in.Period.To, func(x *match.Session) error {
		a.add(s, x, outside(x), seen)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("summary: reading %s: %w", labelOf(in.Period), err)
	}
	a.finish(s)
	for i, p := range in.Previous {
		s.Changes = append(s.Changes, change(p, s.Totals, prev[i]))
	}
	return s, nil
}

// outsideFunc compiles the business hours through match's rule compiler (the same hours a watch
// rule's outsideBusinessHours uses), so both read "outside" identically.
func outsideFunc(bh match.BusinessHours) (func(*match.Session) bool, error) {
	r, err := match.Compile(match.Definition{Name: "business hours", URL: "report:", On: match.Started, OutsideBusinessHours: &bh})
	if err != nil {
		return nil, fmt.Errorf("summary: business hours: %w", err)
	}
	return func(x *match.Session) bool {
		_, ok, _ := r.Evaluate(match.Input{Trigger: match.Started, Session: x})
		return ok
	}, nil
}

func describeHours(bh match.BusinessHours) string {
	days := "Monday to Friday"
	if len(bh.Days) > 0 {
		d := make([]string, len(bh.Days))
		for i, x := range bh.Days {
			x = strings.ToLower(x)
			if x != "" {
				x = strings.ToUpper(x[:1]) + x[1:]
			}
			d[i] = x
		}
		days = strings.Join(d, ", ")
	}
	return fmt.Sprintf("%s-%s %s, %s", cmp.Or(bh.Start, "09:00"), cmp.Or(bh.End, "17:00"), days, bh.TimeZone)
}

func labelOf(p Period) string {
	if p.Label != "" {
		return p.Label
	}
	return p.From.UTC().Format(time.RFC3339) + ".." + p.To.UTC().Format(time.RFC3339)
}

func (t *Totals) add(x *match.Session) {
	t.Sessions++
	t.Items += x.Items
	t.Bytes += x.Bytes
}

// machineKey is the session's client machine, case-folded ("" when unknown).
func machineKey(x *match.Session) string {
	return strings.ToLower(x.ClientHost().MachineName)
}

// keySet is a set of keys holding at most MaxDistinct.
type keySet struct {
	m    map[string]bool
	full bool
}

func newKeySet() *keySet { return &keySet{m: map[string]bool{}} }

func (k *keySet) add(key string) {
	if key == "" || k.m[key] {
		return
	}
	if len(k.m) >= MaxDistinct {
		k.full = true
		return
	}
	k.m[key] = true
}

// counter counts totals per key, at most MaxDistinct keys (the rest under Others). A folding
// counter compares keys case-insensitively and shows the first spelling seen.
type counter struct {
	m    map[string]*Count
	fold bool
	full bool
}

func newCounter(fold bool) *counter { return &counter{m: map[string]*Count{}, fold: fold} }

func (c *counter) add(key string, x *match.Session) {
	k := key
	if c.fold {
		k = strings.ToLower(key)
	}
	t, ok := c.m[k]
	if !ok {
		if len(c.m) >= MaxDistinct {
			c.full = true
			k, key = "\x00others", Others
			t, ok = c.m[k]
		}
		if !ok {
			t = &Count{Key: key}
			c.m[k] = t
		}
	}
	t.add(x)
}

// sorted returns the counts by sessions, then items, then key; n <= 0: all.
func (c *counter) sorted(n int) []Count {
	out := make([]Count, 0, len(c.m))
	for _, t := range c.m {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Sessions, a.Sessions), cmp.Compare(b.Items, a.Items), cmp.Compare(a.Key, b.Key))
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// aggregate is the current period's running state.
type aggregate struct {
	byType, byResult           *counter
	people, machines, orgs     *counter
	failed, firstTime, outside []SessionLine
	firstSeen                  map[string]bool
	nFailed, nFirst, nOutside  int
}

func newAggregate() *aggregate {
	return &aggregate{
		byType: newCounter(false), byResult: newCounter(false),
		people: newCounter(true), machines: newCounter(true), orgs: newCounter(false),
		firstSeen: map[string]bool{},
	}
}

func (a *aggregate) add(s *Summary, x *match.Session, outside bool, seen *keySet) {
	s.Totals.add(x)
	line := lineOf(x)
	a.byType.add(string(line.Type), x)
	a.byResult.add(string(line.Result), x)
	a.people.add(cmp.Or(x.Upstream.InitiatedBy, "(unknown)"), x)
	a.machines.add(cmp.Or(line.Machine, "(unknown)"), x)
	a.orgs.add(cmp.Or(x.OrgName, "(unknown)"), x)
	if line.Result == model.RestoreSessionResultFailed {
		a.nFailed++
		a.failed = appendCapped(a.failed, line)
	}
	if outside {
		a.nOutside++
		a.outside = appendCapped(a.outside, line)
	}
	if mk := machineKey(x); mk != "" && !seen.m[mk] && !a.firstSeen[mk] && len(a.firstSeen) < MaxDistinct {
		a.firstSeen[mk] = true
		a.nFirst++
		a.firstTime = appendCapped(a.firstTime, line)
	}
}

func appendCapped(l []SessionLine, x SessionLine) []SessionLine {
	if len(l) >= MaxListed {
		return l
	}
	return append(l, x)
}

func (a *aggregate) finish(s *Summary) {
	s.ByType = a.byType.sorted(0)
	s.ByResult = a.byResult.sorted(0)
	s.TopPeople = a.people.sorted(TopN)
	s.TopMachines = a.machines.sorted(TopN)
	s.TopOrganizations = a.orgs.sorted(TopN)
	s.Failed, s.FailedTotal = sortLines(a.failed), a.nFailed
	s.FirstTimeMachines, s.FirstTimeMachinesTotal = sortLines(a.firstTime), a.nFirst
	s.OutsideHours, s.OutsideHoursTotal = sortLines(a.outside), a.nOutside
	s.Truncated = s.Truncated || a.people.full || a.machines.full || a.orgs.full
}

// sortLines orders listed sessions oldest first (the reader's order is not promised).
func sortLines(l []SessionLine) []SessionLine {
	slices.SortStableFunc(l, func(a, b SessionLine) int {
		return cmp.Or(a.Started.Compare(b.Started), cmp.Compare(a.ID, b.ID))
	})
	return l
}

func lineOf(x *match.Session) SessionLine {
	return SessionLine{
		ID:           x.ID(),
		Started:      x.Upstream.CreationTime,
		Organization: x.OrgName,
		InitiatedBy:  x.Upstream.InitiatedBy,
		Machine:      x.ClientHost().MachineName,
		Type:         model.SessionTypeFromVBO(x.Upstream.Type),
		Result:       resultOf(x.Upstream),
		Items:        x.Items,
		Bytes:        x.Bytes,
		Reason:       x.Upstream.Reason,
	}
}

func resultOf(u upstream.RestoreSession) model.RestoreSessionResult {
	if !u.Finished() && u.Result == "" {
		return model.RestoreSessionResultUnknown
	}
	return model.SessionResultFromVBO(u.Result)
}

func change(p Period, cur, prev Totals) Change {
	return Change{
		Period: p, Previous: prev,
		Sessions: cur.Sessions - prev.Sessions, Items: cur.Items - prev.Items, Bytes: cur.Bytes - prev.Bytes,
		SessionsPct: pct(cur.Sessions, prev.Sessions), ItemsPct: pct(cur.Items, prev.Items), BytesPct: pct(cur.Bytes, prev.Bytes),
	}
}

// pct is the change from prev to cur in percent; nil when prev is zero.
func pct(cur, prev int64) *float64 {
	if prev == 0 {
		return nil
	}
	v := float64(cur-prev) / float64(prev) * 100
	return &v
}

func coverage(cs []*model.RestoreAuditCoverage) []Coverage {
	out := make([]Coverage, 0, len(cs))
	for _, c := range cs {
		if c == nil {
			continue
		}
		name := ""
		if c.Server != nil {
			name = c.Server.Name
		}
		out = append(out, Coverage{Server: name, From: c.From, To: c.To, Complete: c.Complete})
	}
	return out
}
