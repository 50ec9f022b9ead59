package model

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestParseTimeSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:00:00", 0, true},
		{"00:00:00.0446928", 44692800 * time.Nanosecond, true},
		{"00:00:01.5", 1500 * time.Millisecond, true},
		{"00:00:00.0000001", 100 * time.Nanosecond, true},
		{"00:01:02", time.Minute + 2*time.Second, true},
		{"23:59:59.9999999", 24*time.Hour - 100*time.Nanosecond, true},
		{"1.02:03:04", 26*time.Hour + 3*time.Minute + 4*time.Second, true},
		{"10.00:00:00.25", 240*time.Hour + 250*time.Millisecond, true},
		{"-00:00:01", -time.Second, true},
		{"-1.00:00:00.5", -(24*time.Hour + 500*time.Millisecond), true},
		{" 00:00:03 ", 3 * time.Second, true},
		{"", 0, false},
		{"   ", 0, false},
		{"garbage", 0, false},
		{"00:00", 0, false},
		{"00:00:00:00", 0, false},
		{"24:00:00", 0, false},
		{"00:60:00", 0, false},
		{"00:00:60", 0, false},
		{"00:00:00.12345678", 0, false},
		{"00:00:00.abc", 0, false},
		{"00:00:00.-1", 0, false},
		{"-1.-2:00:00", 0, false},
		{"x.00:00:00", 0, false},
		{"--00:00:01", 0, false},
		{"00:-1:00", 0, false},
		{"+0:00:00", 0, false},
		{"PT1S", 0, false},
		{"1e3:00:00", 0, false},
		{strings.Repeat("0", 40), 0, false},
		// A day count so large the duration would overflow int64 nanoseconds.
		{"2000000000.00:00:00", 0, false},
		{"106751.00:00:00", 0, false},
		{"106750.00:00:00", 106750 * 24 * time.Hour, true},
	}
	for _, tc := range tests {
		got, ok := ParseTimeSpan(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseTimeSpan(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEnumMapping(t *testing.T) {
	sessionTypes := map[upstream.RestoreSessionType]RestoreSessionType{
		"Vex": RestoreSessionTypeExchange, "Veod": RestoreSessionTypeOnedrive, "Vesp": RestoreSessionTypeSharepoint,
		"Vet": RestoreSessionTypeTeams, "": RestoreSessionTypeUnknown, "vex": RestoreSessionTypeUnknown,
		"Vesp2": RestoreSessionTypeUnknown,
	}
	for in, want := range sessionTypes {
		if got := SessionTypeFromVBO(in); got != want {
			t.Errorf("SessionTypeFromVBO(%q) = %s, want %s", in, got, want)
		}
	}
	states := map[upstream.RestoreSessionState]RestoreSessionState{
		"Working": RestoreSessionStateWorking, "Stopped": RestoreSessionStateStopped,
		"Starting": RestoreSessionStateUnknown, "Stopping": RestoreSessionStateUnknown, "": RestoreSessionStateUnknown,
	}
	for in, want := range states {
		if got := SessionStateFromVBO(in); got != want {
			t.Errorf("SessionStateFromVBO(%q) = %s, want %s", in, got, want)
		}
	}
	results := map[upstream.RestoreSessionResult]RestoreSessionResult{
		"Success": RestoreSessionResultSuccess, "Warning": RestoreSessionResultWarning,
		"Failed": RestoreSessionResultFailed, "None": RestoreSessionResultUnknown, "": RestoreSessionResultUnknown,
	}
	for in, want := range results {
		if got := SessionResultFromVBO(in); got != want {
			t.Errorf("SessionResultFromVBO(%q) = %s, want %s", in, got, want)
		}
	}
	eventTypes := map[upstream.RestoreEventType]RestoreEventType{
		"None": RestoreEventTypeNone, "Save": RestoreEventTypeSave, "Export": RestoreEventTypeExport,
		"Send": RestoreEventTypeSend, "Restore": RestoreEventTypeRestore, "View": RestoreEventTypeView,
		"Delete": RestoreEventTypeUnknown, "": RestoreEventTypeUnknown,
	}
	for in, want := range eventTypes {
		if got := EventTypeFromVBO(in); got != want {
			t.Errorf("EventTypeFromVBO(%q) = %s, want %s", in, got, want)
		}
	}
	statuses := map[upstream.RestoreEventStatus]RestoreEventStatus{
		"Running": RestoreEventStatusRunning, "Success": RestoreEventStatusSuccess, "Warning": RestoreEventStatusWarning,
		"Failed": RestoreEventStatusFailed, "Cancelled": RestoreEventStatusCancelled, "Skipped": RestoreEventStatusSkipped,
		"Queued": RestoreEventStatusUnknown, "": RestoreEventStatusUnknown,
	}
	for in, want := range statuses {
		if got := EventStatusFromVBO(in); got != want {
			t.Errorf("EventStatusFromVBO(%q) = %s, want %s", in, got, want)
		}
	}
	orgTypes := map[upstream.OrganizationType]OrganizationType{
		"Office365": OrganizationTypeOffice365, "OnPremises": OrganizationTypeOnPremises,
		"Hybrid": OrganizationTypeHybrid, "Cloud": OrganizationTypeUnknown, "": OrganizationTypeUnknown,
	}
	for in, want := range orgTypes {
		if got := (&Organization{Upstream: upstream.Organization{Type: in}}).Type(); got != want {
			t.Errorf("Organization{Type: %q}.Type() = %s, want %s", in, got, want)
		}
	}
	// Every mapped value is a valid schema enum value.
	for _, v := range sessionTypes {
		if !v.IsValid() {
			t.Errorf("%s is not a schema value", v)
		}
	}
}

func TestModelFields(t *testing.T) {
	loc := time.FixedZone("NZDT", 13*3600)
	created := time.Date(2026, 3, 2, 22, 0, 0, 500, loc)
	end := created.Add(90 * time.Second)
	s := RestoreSession{ServerName: "akl1", Upstream: upstream.RestoreSession{ID: "abc", CreationTime: created, EndTime: &end,
		ClientHost: "BXYDEV01 (via: 203.0.113.7)"}}
	if got := s.StartTime(); got.Location() != time.UTC || !got.Equal(created) {
		t.Errorf("StartTime = %v, want UTC %v", got, created)
	}
	if got := s.EndTime(); got == nil || got.Location() != time.UTC || !got.Equal(end) {
		t.Errorf("EndTime = %v", got)
	}
	if s.InitiatedBy() != nil || s.Reason() != nil || s.Details() != nil || s.ScopeName() != nil {
		t.Error("empty strings must be null")
	}
	ch := s.ClientHost()
	if ch == nil || ch.Raw() != "BXYDEV01 (via: 203.0.113.7)" || ch.MachineName() == nil || *ch.MachineName() != "BXYDEV01" ||
		ch.ViaAddress() == nil || *ch.ViaAddress() != "203.0.113.7" {
		t.Errorf("ClientHost = %+v", ch)
	}
	if (&RestoreSession{}).ClientHost() != nil {
		t.Error("empty clientHost must be null")
	}
	direct := (&RestoreSession{Upstream: upstream.RestoreSession{ClientHost: "10.1.2.3"}}).ClientHost()
	if direct == nil || *direct.MachineName() != "10.1.2.3" || direct.ViaAddress() != nil {
		t.Errorf("direct ClientHost = %+v", direct)
	}
	ev := RestoreEvent{Upstream: upstream.RestoreSessionEvent{Duration: "00:00:02.5"}}
	if d := ev.DurationSeconds(); d == nil || *d != 2.5 {
		t.Errorf("DurationSeconds = %v", d)
	}
	for _, bad := range []string{"", "soon"} {
		if d := (&RestoreEvent{Upstream: upstream.RestoreSessionEvent{Duration: bad}}).DurationSeconds(); d != nil {
			t.Errorf("DurationSeconds(%q) = %v, want null", bad, *d)
		}
	}
	// IDs differ by kind and detached organisations get their own kind.
	o := Organization{ServerName: "akl1", Upstream: upstream.Organization{ID: "abc", Name: "Contoso"}}
	d := Organization{ServerName: "akl1", Upstream: upstream.Organization{Name: "Contoso"}, Detached: true}
	if o.ID() == d.ID() || o.ID() == *s.ID() || o.GetID() != o.ID() || d.UpstreamID() != "" {
		t.Errorf("ids: org %s detached %s session %s", o.ID(), d.ID(), *s.ID())
	}
}

// TestMarshalDateTime: the gateway's DateTime writer matches graphql.MarshalTime (quoted
// RFC 3339 with nanoseconds, in UTC) whatever the writer, and writes null for the zero time.
func TestMarshalDateTime(t *testing.T) {
	nz := time.FixedZone("NZDT", 13*3600)
	for _, tc := range []time.Time{
		time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC),
		time.Date(2026, 3, 2, 23, 30, 0, 500, nz),
		time.Date(2199, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		var want bytes.Buffer
		graphql.MarshalTime(tc.UTC()).MarshalGQL(&want)
		var buf bytes.Buffer
		buf.WriteString("x")
		MarshalDateTime(tc).MarshalGQL(&buf)
		var plain strings.Builder // no AvailableBuffer: the other path
		MarshalDateTime(tc).MarshalGQL(&plain)
		if buf.String() != "x"+want.String() || plain.String() != want.String() {
			t.Errorf("%v: got %s and %s, want %s", tc, buf.String(), plain.String(), want.String())
		}
	}
	if MarshalDateTime(time.Time{}) != graphql.Null {
		t.Error("the zero time must be null")
	}
}

// TestModelFieldsAllocate: plain fields read the model without allocating (pointers into it or
// into the enums' read-only tables), and give the right values.
func TestModelFieldsAllocate(t *testing.T) {
	end := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	start := end.Add(-time.Minute)
	s := &RestoreSession{ServerName: "syd1", Upstream: upstream.RestoreSession{ID: "abc", Name: "Veeam Explorer", Details: "3 items",
		InitiatedBy: "admin@contoso", CreationTime: start, EndTime: &end, Type: upstream.SessionTypeTeams,
		State: upstream.SessionStateStopped, Result: "Exploded"}}
	ev := &RestoreEvent{Upstream: upstream.RestoreSessionEvent{ID: "e1", Message: "done", StartTime: start,
		Type: upstream.EventTypeExport, Status: upstream.EventStatusSkipped}}
	if n := testing.AllocsPerRun(100, func() {
		_, _, _, _, _ = s.Details(), s.InitiatedBy(), s.EndTime(), s.StartTime(), s.UpstreamID()
		_, _, _, _ = s.Name(), s.Type(), s.State(), s.Result()
		_, _, _, _, _ = ev.Type(), ev.Status(), ev.StartTime(), ev.Message(), ev.UpstreamID()
	}); n != 0 {
		t.Errorf("session and event fields: %.0f allocations, want 0", n)
	}
	if *s.Details() != "3 items" || *s.InitiatedBy() != "admin@contoso" || !s.EndTime().Equal(end) || !s.StartTime().Equal(start) ||
		*s.UpstreamID() != "abc" || *s.Name() != "Veeam Explorer" || *s.Type() != RestoreSessionTypeTeams ||
		*s.State() != RestoreSessionStateStopped || *s.Result() != RestoreSessionResultUnknown {
		t.Error("wrong session values")
	}
	if *ev.Type() != RestoreEventTypeExport || *ev.Status() != RestoreEventStatusSkipped || !ev.StartTime().Equal(start) ||
		*ev.Message() != "done" || *ev.UpstreamID() != "e1" {
		t.Error("wrong event values")
	}
	if *s.ID() != s.GetID() || *ev.ID() != ev.GetID() || *s.ID() == *ev.ID() {
		t.Error("ID and GetID disagree")
	}
}

// TestOutputEnumsMatchSchema: the hand-written enums (output_enums.go) have exactly the
// schema's values, in its order, and write and read them back.
func TestOutputEnumsMatchSchema(t *testing.T) {
	files, err := filepath.Glob("../*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v %v", files, err)
	}
	var sources []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: f, Input: string(b)})
	}
	schema, gerr := gqlparser.LoadSchema(sources...)
	if gerr != nil {
		t.Fatal(gerr)
	}
	values := func(all ...fmt.Stringer) []string {
		var out []string
		for _, v := range all {
			out = append(out, v.String())
		}
		return out
	}
	for name, got := range map[string][]string{
		"RestoreSessionType":   values(stringers(AllRestoreSessionType)...),
		"RestoreSessionState":  values(stringers(AllRestoreSessionState)...),
		"RestoreSessionResult": values(stringers(AllRestoreSessionResult)...),
		"RestoreEventType":     values(stringers(AllRestoreEventType)...),
		"RestoreEventStatus":   values(stringers(AllRestoreEventStatus)...),
	} {
		def := schema.Types[name]
		if def == nil || def.Kind != ast.Enum {
			t.Fatalf("%s is not a schema enum", name)
		}
		var want []string
		for _, v := range def.EnumValues {
			want = append(want, v.Name)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: hand-written values %v, schema %v", name, got, want)
		}
	}
	for _, tc := range []struct {
		m    graphql.Marshaler
		want string
	}{
		{RestoreSessionTypeSharepoint, `"SHAREPOINT"`},
		{RestoreEventStatusCancelled, `"CANCELLED"`},
		{RestoreEventType(`BAD"NAME`), `"BAD\"NAME"`}, // not a schema value: quoted in full
	} {
		var buf bytes.Buffer
		tc.m.MarshalGQL(&buf)
		if buf.String() != tc.want {
			t.Errorf("MarshalGQL = %s, want %s", buf.String(), tc.want)
		}
	}
	var st RestoreSessionState
	if err := st.UnmarshalGQL("STOPPED"); err != nil || st != RestoreSessionStateStopped {
		t.Errorf("UnmarshalGQL(STOPPED) = %s, %v", st, err)
	}
	for _, bad := range []any{"stopped", 3, nil} {
		if err := st.UnmarshalGQL(bad); err == nil {
			t.Errorf("UnmarshalGQL(%v) accepted", bad)
		}
	}
	var ev RestoreEventType
	if b, _ := RestoreEventTypeExport.MarshalJSON(); string(b) != `"EXPORT"` || ev.UnmarshalJSON(b) != nil || ev != RestoreEventTypeExport {
		t.Errorf("JSON round trip: %s -> %s", b, ev)
	}
	if ev.UnmarshalJSON([]byte(`"PRINT"`)) == nil {
		t.Error("UnmarshalJSON accepted PRINT")
	}
	out := bytes.NewBuffer(make([]byte, 0, 64))
	if n := testing.AllocsPerRun(100, func() { out.Reset(); RestoreSessionResultFailed.MarshalGQL(out) }); n != 0 {
		t.Errorf("MarshalGQL: %.0f allocations, want 0", n)
	}
}

func stringers[E fmt.Stringer](all []E) []fmt.Stringer {
	out := make([]fmt.Stringer, len(all))
	for i, v := range all {
		out[i] = v
	}
	return out
}
