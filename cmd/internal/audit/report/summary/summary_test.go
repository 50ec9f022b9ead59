package summary

import (
	"context"
	"errors"
	"fmt"
	stdhtml "html"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// week is the reported period: Monday 6 July 2026 to the next Monday, UTC.
var week = Period{From: time.Date(2026, 7, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 7, 13, 0, 0, 0, 0, time.UTC), Label: "week 28"}

// weeksBefore returns the n weeks before week, newest first.
func weeksBefore(n int) []Period {
	var out []Period
	for i := 1; i <= n; i++ {
		out = append(out, Period{From: week.From.AddDate(0, 0, -7*i), To: week.To.AddDate(0, 0, -7*i), Label: fmt.Sprintf("week %d", 28-i)})
	}
	return out
}

// fakeArchive is a Sessions reader over a slice: the sessions started in [from, to).
type fakeArchive struct {
	sessions []*match.Session
	reads    int
	err      error
}

func (f *fakeArchive) Sessions(ctx context.Context, from, to time.Time, each func(*match.Session) error) error {
	f.reads++
	if f.err != nil {
		return f.err
	}
	for _, s := range f.sessions {
		if t := s.Upstream.CreationTime; !t.Before(from) && t.Before(to) {
			if err := each(s); err != nil {
				return err
			}
		}
	}
	return nil
}

type sess struct {
	at           time.Time
	org, who, mc string
	typ          upstream.RestoreSessionType
	res          upstream.RestoreSessionResult
	items, bytes int64
}

func (s sess) session(i int) *match.Session {
	return &match.Session{
		Server: "vbo1", OrgID: "org-" + s.org, OrgName: s.org, Items: s.items, Bytes: s.bytes,
		Upstream: upstream.RestoreSession{
			ID: fmt.Sprintf("s%03d", i), Organization: s.org, Type: s.typ, CreationTime: s.at,
			State: upstream.SessionStateStopped, Result: s.res, InitiatedBy: s.who, ClientHost: s.mc,
		},
	}
}

func at(day, hour int) time.Time { return time.Date(2026, 7, day, hour, 0, 0, 0, time.UTC) }

// archive is the synthetic archive: four sessions this week, two, none, three and one in the
// four weeks before.
func archive() *fakeArchive {
	const ex, od, tm = upstream.SessionTypeExchange, upstream.SessionTypeOneDrive, upstream.SessionTypeTeams
	const ok, warn, failed = upstream.SessionResultSuccess, upstream.SessionResultWarning, upstream.SessionResultFailed
	all := []sess{
		// this week
		{at(6, 10), "Contoso", "alice@contoso.com", "PC-1", ex, ok, 10, 1000},                 // Monday 10:00: inside
		{at(7, 22), "Contoso", "alice@contoso.com", "PC-2 (via: 10.0.0.1)", od, failed, 0, 0}, // Tuesday 22:00: outside, new machine
		{at(11, 11), "Fabrikam", "bob@fabrikam.com", "pc-1", ex, ok, 5, 500},                  // Saturday: outside; PC-1 case-folded
		{at(8, 9), "Contoso", "carol@contoso.com", "", tm, warn, 1, 100},                      // no machine recorded
		// week 27
		{at(1, 10), "Contoso", "alice@contoso.com", "PC-1", ex, ok, 4, 400},
		{at(2, 10), "Contoso", "alice@contoso.com", "PC-1", ex, ok, 4, 400},
		// week 26: none
		// week 25
		{at(0, 10).AddDate(0, 0, -21+7), "Contoso", "dave", "PC-3", ex, ok, 1, 1}, // 16 June
		{at(0, 11).AddDate(0, 0, -21+7), "Contoso", "dave", "PC-3", ex, ok, 1, 1},
		{at(0, 12).AddDate(0, 0, -21+7), "Contoso", "dave", "PC-9", ex, failed, 1, 1},
		// week 24
		{at(0, 10).AddDate(0, 0, -28+7), "Contoso", "erin", "PC-4", ex, ok, 20, 2000}, // 9 June
	}
	f := &fakeArchive{}
	for i, s := range all {
		f.sessions = append(f.sessions, s.session(i))
	}
	return f
}

func input(f *fakeArchive) Input {
	return Input{
		Title: "Weekly restores", Scope: "tenant Contoso", Period: week, Previous: weeksBefore(4),
		Sessions: f.Sessions, Complete: true,
		Coverage: []*model.RestoreAuditCoverage{{Server: &model.VboServer{Name: "vbo1"}, From: ptr(week.From.AddDate(0, -3, 0)), To: ptr(week.To), Complete: true}},
	}
}

func ptr[T any](v T) *T { return &v }

func keys(cs []Count) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s=%d", c.Key, c.Sessions))
	}
	return out
}

func machines(ls []SessionLine) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Machine)
	}
	return out
}

func pctString(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%.1f", *p)
}

func TestBuild(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(*Input)
		check func(t *testing.T, s *Summary)
	}{
		{"totals, by type and result", nil, func(t *testing.T, s *Summary) {
			if s.Totals != (Totals{Sessions: 4, Items: 16, Bytes: 1600}) {
				t.Errorf("totals %+v", s.Totals)
			}
			if got := keys(s.ByType); !slices.Equal(got, []string{"EXCHANGE=2", "TEAMS=1", "ONEDRIVE=1"}) {
				t.Errorf("by type %v", got)
			}
			if got := keys(s.ByResult); !slices.Equal(got, []string{"SUCCESS=2", "WARNING=1", "FAILED=1"}) {
				t.Errorf("by result %v", got)
			}
		}},
		{"tops: people, machines (case-insensitive), organisations", nil, func(t *testing.T, s *Summary) {
			if got := keys(s.TopPeople); !slices.Equal(got, []string{"alice@contoso.com=2", "bob@fabrikam.com=1", "carol@contoso.com=1"}) {
				t.Errorf("people %v", got)
			}
			if got := keys(s.TopOrganizations); !slices.Equal(got, []string{"Contoso=3", "Fabrikam=1"}) {
				t.Errorf("organisations %v", got)
			}
			if got := keys(s.TopMachines); !slices.Equal(got, []string{"PC-1=2", "(unknown)=1", "PC-2=1"}) {
				t.Errorf("machines %v", got)
			}
		}},
		{"failed sessions listed", nil, func(t *testing.T, s *Summary) {
			if s.FailedTotal != 1 || len(s.Failed) != 1 || s.Failed[0].Machine != "PC-2" || s.Failed[0].InitiatedBy != "alice@contoso.com" {
				t.Errorf("failed %d %+v", s.FailedTotal, s.Failed)
			}
		}},
		{"first-time machines: not in any earlier period, case-insensitive, unknown ignored", nil, func(t *testing.T, s *Summary) {
			if got := machines(s.FirstTimeMachines); s.FirstTimeMachinesTotal != 1 || !slices.Equal(got, []string{"PC-2"}) {
				t.Errorf("first-time %d %v", s.FirstTimeMachinesTotal, got)
			}
		}},
		{"first-time machines without earlier periods: every machine once", func(in *Input) { in.Previous = nil }, func(t *testing.T, s *Summary) {
			if got := machines(s.FirstTimeMachines); !slices.Equal(got, []string{"PC-1", "PC-2"}) {
				t.Errorf("first-time %v", got)
			}
			if len(s.Changes) != 0 {
				t.Errorf("changes without earlier periods: %+v", s.Changes)
			}
		}},
		{"outside business hours: default 08:00-18:00 Mon-Fri UTC", nil, func(t *testing.T, s *Summary) {
			if got := machines(s.OutsideHours); s.OutsideHoursTotal != 2 || !slices.Equal(got, []string{"PC-2", "pc-1"}) {
				t.Errorf("outside %d %v", s.OutsideHoursTotal, got)
			}
			if s.BusinessHours != "08:00-18:00 Monday to Friday, UTC" {
				t.Errorf("hours %q", s.BusinessHours)
			}
		}},
		{"outside business hours in the schedule's zone", func(in *Input) {
			// Sydney is UTC+10: Monday 10:00 UTC is 20:00 there (outside), Wednesday 09:00 UTC is 19:00 (outside),
			// Tuesday 22:00 UTC is Wednesday 08:00 (inside), Saturday 11:00 UTC is Saturday 21:00 (outside).
			in.BusinessHours = &match.BusinessHours{TimeZone: "Australia/Sydney", Start: "08:00", End: "18:00"}
		}, func(t *testing.T, s *Summary) {
			if got := machines(s.OutsideHours); !slices.Equal(got, []string{"PC-1", "", "pc-1"}) {
				t.Errorf("outside %v", got)
			}
		}},
		{"change against 4 earlier periods, one of them empty", nil, func(t *testing.T, s *Summary) {
			want := []string{
				"week 27 prev=2 d=2 pct=100.0 items=8/100.0 bytes=800/100.0",
				"week 26 prev=0 d=4 pct=nil items=16/nil bytes=1600/nil",
				"week 25 prev=3 d=1 pct=33.3 items=13/433.3 bytes=1597/53233.3",
				"week 24 prev=1 d=3 pct=300.0 items=-4/-20.0 bytes=-400/-20.0",
			}
			var got []string
			for _, c := range s.Changes {
				got = append(got, fmt.Sprintf("%s prev=%d d=%d pct=%s items=%d/%s bytes=%d/%s", c.Period.Label, c.Previous.Sessions, c.Sessions,
					pctString(c.SessionsPct), c.Items, pctString(c.ItemsPct), c.Bytes, pctString(c.BytesPct)))
			}
			if !slices.Equal(got, want) {
				t.Errorf("changes\n got %q\nwant %q", got, want)
			}
		}},
		{"an empty period", func(in *Input) { in.Period = weeksBefore(2)[1]; in.Previous = weeksBefore(3)[2:] }, func(t *testing.T, s *Summary) {
			if s.Totals != (Totals{}) || len(s.TopPeople) != 0 || s.FailedTotal != 0 {
				t.Errorf("empty period: %+v", s)
			}
			if c := s.Changes[0]; c.Sessions != -3 || pctString(c.SessionsPct) != "-100.0" {
				t.Errorf("change %+v", c)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := input(archive())
			if tc.edit != nil {
				tc.edit(&in)
			}
			s, err := Build(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	boom := errors.New("archive down")
	cases := []struct {
		name string
		edit func(*Input, *fakeArchive)
		want string
	}{
		{"no reader", func(in *Input, _ *fakeArchive) { in.Sessions = nil }, "no Sessions reader"},
		{"empty period", func(in *Input, _ *fakeArchive) { in.Period.To = in.Period.From }, "is empty"},
		{"too many earlier periods", func(in *Input, _ *fakeArchive) { in.Previous = weeksBefore(5) }, "at most 4"},
		{"bad zone", func(in *Input, _ *fakeArchive) { in.BusinessHours = &match.BusinessHours{TimeZone: "Mars/Olympus"} }, "not an IANA time zone"},
		{"reader fails", func(_ *Input, f *fakeArchive) { f.err = boom }, "archive down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := archive()
			in := input(f)
			tc.edit(&in, f)
			s, err := Build(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build = %v, %v; want an error containing %q", s, err, tc.want)
			}
		})
	}
	f := archive()
	f.err = boom
	in := input(f)
	if _, err := Build(context.Background(), in); !errors.Is(err, boom) {
		t.Errorf("reader error not wrapped: %v", err)
	}
}

func TestListsAreCapped(t *testing.T) {
	t.Parallel()
	f := &fakeArchive{}
	for i := range MaxListed + 7 {
		s := sess{at(7, 23).Add(time.Duration(i) * time.Second), "Contoso", fmt.Sprintf("u%d", i), fmt.Sprintf("M%d", i), upstream.SessionTypeExchange, upstream.SessionResultFailed, 1, 1}
		f.sessions = append(f.sessions, s.session(i))
	}
	in := input(f)
	s, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if s.FailedTotal != MaxListed+7 || len(s.Failed) != MaxListed || s.OutsideHoursTotal != MaxListed+7 || len(s.OutsideHours) != MaxListed ||
		s.FirstTimeMachinesTotal != MaxListed+7 || len(s.FirstTimeMachines) != MaxListed || len(s.TopPeople) != TopN {
		t.Errorf("caps: failed %d/%d outside %d/%d first %d/%d top %d", s.FailedTotal, len(s.Failed), s.OutsideHoursTotal, len(s.OutsideHours),
			s.FirstTimeMachinesTotal, len(s.FirstTimeMachines), len(s.TopPeople))
	}
	for _, want := range []string{"... and 7 more", "Failed sessions: 57"} {
		if !strings.Contains(s.Text(), want) {
			t.Errorf("text lacks %q", want)
		}
		html, err := s.HTML()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(html), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		edit       func(*Input)
		want, lack []string
	}{
		{"complete", nil,
			[]string{"Weekly restores", "week 28", "tenant Contoso", "alice@contoso.com", "PC-2", "week 26", "n/a", "+100%", "1.6 KiB"},
			[]string{"INCOMPLETE"}},
		{"incomplete: banner naming the gap", func(in *Input) {
			in.Complete = false
			in.Coverage = append(in.Coverage, &model.RestoreAuditCoverage{Server: &model.VboServer{Name: "vbo2"}, From: ptr(week.From.AddDate(0, 0, 3)), To: ptr(week.To)})
		}, []string{"INCOMPLETE: the archive does not cover week 28", "vbo2 (INCOMPLETE, archived from 2026-07-09 00:00 UTC"}, nil},
		{"escaped", func(in *Input) { in.Title = `<script>alert(1)</script>` }, nil, []string{"<script>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := input(archive())
			if tc.edit != nil {
				tc.edit(&in)
			}
			s, err := Build(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			h, err := s.HTML()
			if err != nil {
				t.Fatal(err)
			}
			html, text := string(h), s.Text()
			for _, w := range tc.want {
				if !strings.Contains(stdhtml.UnescapeString(html), w) {
					t.Errorf("HTML lacks %q", w)
				}
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q", w)
				}
			}
			for _, l := range tc.lack {
				if strings.Contains(html, l) {
					t.Errorf("HTML holds %q", l)
				}
			}
			for _, banned := range []string{"<script", "<link", "src=", "@import", "url("} {
				if strings.Contains(html, banned) {
					t.Errorf("HTML is not self-contained: holds %q", banned)
				}
			}
		})
	}
}
