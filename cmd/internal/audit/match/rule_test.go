package match

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func ptr[T any](v T) *T { return &v }

// A Tuesday 02:30 in Sydney (AEDT, UTC+11): outside business hours there.
var sydneyNight = time.Date(2025, 3, 3, 15, 30, 0, 0, time.UTC)

// A Tuesday 11:00 in Sydney.
var sydneyDay = time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)

func session(mod ...func(*Session)) *Session {
	s := &Session{
		Server: "syd1", OrgID: "A0B1C2D3-0000-0000-0000-000000000001", OrgName: "Contoso",
		Upstream: upstream.RestoreSession{
			ID: "11111111-2222-3333-4444-555555555555", Name: "Veeam Explorer for Microsoft Exchange",
			Organization: "Contoso", Type: upstream.SessionTypeExchange, CreationTime: sydneyDay,
			State: upstream.SessionStateStopped, Result: upstream.SessionResultSuccess,
			InitiatedBy: "CONTOSO\\mallory", ClientHost: "UNKNOWN-PC (via: 198.51.100.7)",
		},
		Items: 12, Bytes: 5 << 20,
		ItemsByEventType: map[model.RestoreEventType]int64{model.RestoreEventTypeExport: 12},
	}
	for _, m := range mod {
		m(s)
	}
	return s
}

func event(t upstream.RestoreEventType, source string, at time.Time) upstream.RestoreSessionEvent {
	return upstream.RestoreSessionEvent{ID: "ev-" + strings.ToLower(string(t)), Type: t, Status: upstream.EventStatusSuccess,
		StartTime: at, Source: source, ItemName: "Q3 board pack.docx", ItemSizeBytes: ptr(int64(4096))}
}

func orgGID(server, id string) string {
	return gid.ID{Kind: gid.KindOrganization, Server: server, Upstream: id}.String()
}

func def(on Trigger, mod ...func(*Definition)) Definition {
	d := Definition{Name: "r", URL: "https://hooks.example.com/x", On: on}
	for _, m := range mod {
		m(&d)
	}
	return d
}

func TestEvaluate(t *testing.T) {
	ceo := "/Mailboxes/ceo@contoso.com/Inbox"
	tests := []struct {
		name  string
		def   Definition
		in    Input
		match bool
		nEv   int // matched events
	}{
		{"trigger must agree", def(Ended), Input{Trigger: Started, Session: session()}, false, 0},
		{"bare ENDED rule", def(Ended), Input{Trigger: Ended, Session: session()}, true, 0},

		// Filter semantics (RestoreSessionFilter).
		{"filter servers hit", def(Started, func(d *Definition) { d.Filter = &model.RestoreSessionFilter{Servers: []string{"syd1"}} }),
			Input{Trigger: Started, Session: session()}, true, 0},
		{"filter servers miss", def(Started, func(d *Definition) { d.Filter = &model.RestoreSessionFilter{Servers: []string{"mel1"}} }),
			Input{Trigger: Started, Session: session()}, false, 0},
		{"filter organisation hit (id case-insensitive)", def(Started, func(d *Definition) {
			d.Filter = &model.RestoreSessionFilter{OrganizationIds: []string{orgGID("syd1", "a0b1c2d3-0000-0000-0000-000000000001")}}
		}), Input{Trigger: Started, Session: session()}, true, 0},
		{"filter organisation on another server", def(Started, func(d *Definition) {
			d.Filter = &model.RestoreSessionFilter{OrganizationIds: []string{orgGID("mel1", "A0B1C2D3-0000-0000-0000-000000000001")}}
		}), Input{Trigger: Started, Session: session()}, false, 0},
		{"filter organisation vs detached session", def(Started, func(d *Definition) {
			d.Filter = &model.RestoreSessionFilter{OrganizationIds: []string{orgGID("syd1", "A0B1C2D3-0000-0000-0000-000000000001")}}
		}), Input{Trigger: Started, Session: session(func(s *Session) { s.OrgID = "" })}, false, 0},
		{"filter types", def(Started, func(d *Definition) {
			d.Filter = &model.RestoreSessionFilter{Types: []model.RestoreSessionType{model.RestoreSessionTypeSharepoint}}
		}), Input{Trigger: Started, Session: session()}, false, 0},
		{"filter results", def(Ended, func(d *Definition) {
			d.Filter = &model.RestoreSessionFilter{Results: []model.RestoreSessionResult{model.RestoreSessionResultSuccess}}
		}), Input{Trigger: Ended, Session: session()}, true, 0},
		{"filter states", def(Ended, func(d *Definition) {
			d.Filter = &model.RestoreSessionFilter{States: []model.RestoreSessionState{model.RestoreSessionStateWorking}}
		}), Input{Trigger: Ended, Session: session()}, false, 0},
		{"filter initiatedBy substring", def(Started, func(d *Definition) { d.Filter = &model.RestoreSessionFilter{InitiatedBy: ptr("MALLORY")} }),
			Input{Trigger: Started, Session: session()}, true, 0},
		{"filter clientHost substring of raw", def(Started, func(d *Definition) { d.Filter = &model.RestoreSessionFilter{ClientHost: ptr("198.51.100")} }),
			Input{Trigger: Started, Session: session()}, true, 0},
		{"filter time window", def(Started, func(d *Definition) {
			d.Filter = &model.RestoreSessionFilter{StartTimeFrom: ptr(sydneyDay.Add(time.Hour))}
		}), Input{Trigger: Started, Session: session()}, false, 0},

		// Item totals (ENDED).
		{"minItems reached", def(Ended, func(d *Definition) { d.MinItems = ptr(int64(12)) }), Input{Trigger: Ended, Session: session()}, true, 0},
		{"minItems not reached", def(Ended, func(d *Definition) { d.MinItems = ptr(int64(13)) }), Input{Trigger: Ended, Session: session()}, false, 0},
		{"minBytes reached", def(Ended, func(d *Definition) { d.MinBytes = ptr(int64(5 << 20)) }), Input{Trigger: Ended, Session: session()}, true, 0},
		{"minBytes not reached", def(Ended, func(d *Definition) { d.MinBytes = ptr(int64(5<<20 + 1)) }), Input{Trigger: Ended, Session: session()}, false, 0},

		// Event types.
		{"ITEM event type hit", def(Item, func(d *Definition) { d.EventTypes = []model.RestoreEventType{model.RestoreEventTypeView} }),
			Input{Trigger: Item, Session: session(), Events: []upstream.RestoreSessionEvent{
				event(upstream.EventTypeNone, "", sydneyDay), event(upstream.EventTypeView, ceo, sydneyDay), event(upstream.EventTypeExport, ceo, sydneyDay)}}, true, 1},
		{"ITEM event type miss", def(Item, func(d *Definition) { d.EventTypes = []model.RestoreEventType{model.RestoreEventTypeSend} }),
			Input{Trigger: Item, Session: session(), Events: []upstream.RestoreSessionEvent{event(upstream.EventTypeView, ceo, sydneyDay)}}, false, 0},
		{"ITEM markers are not items", def(Item),
			Input{Trigger: Item, Session: session(), Events: []upstream.RestoreSessionEvent{event(upstream.EventTypeNone, "", sydneyDay)}}, false, 0},
		{"ENDED event types from totals", def(Ended, func(d *Definition) { d.EventTypes = []model.RestoreEventType{model.RestoreEventTypeExport} }),
			Input{Trigger: Ended, Session: session()}, true, 0},
		{"ENDED event types from totals miss", def(Ended, func(d *Definition) { d.EventTypes = []model.RestoreEventType{model.RestoreEventTypeSend} }),
			Input{Trigger: Ended, Session: session()}, false, 0},

		// Source path.
		{"source contains (the CEO's mailbox)", def(Item, func(d *Definition) { d.SourceContains = "CEO@contoso.com" }),
			Input{Trigger: Item, Session: session(), Events: []upstream.RestoreSessionEvent{
				event(upstream.EventTypeView, "/Mailboxes/cfo@contoso.com", sydneyDay), event(upstream.EventTypeView, ceo, sydneyDay)}}, true, 1},
		{"source contains miss", def(Ended, func(d *Definition) { d.SourceContains = "ceo@" }),
			Input{Trigger: Ended, Session: session(), Events: []upstream.RestoreSessionEvent{event(upstream.EventTypeView, "/sites/hr", sydneyDay)}}, false, 0},

		// Client machine allow-list.
		{"machine not in allow-list", def(Started, func(d *Definition) { d.ClientMachineNotIn = []string{"ADMIN-PC", "backup01"} }),
			Input{Trigger: Started, Session: session()}, true, 0},
		{"machine in allow-list (case-insensitive)", def(Started, func(d *Definition) { d.ClientMachineNotIn = []string{"unknown-pc"} }),
			Input{Trigger: Started, Session: session()}, false, 0},
		{"no machine recorded counts as unknown", def(Started, func(d *Definition) { d.ClientMachineNotIn = []string{"ADMIN-PC"} }),
			Input{Trigger: Started, Session: session(func(s *Session) { s.Upstream.ClientHost = "" })}, true, 0},

		// Via address.
		{"via in CIDR", def(Started, func(d *Definition) { d.ViaAddressIn = []string{"198.51.100.0/24"} }), Input{Trigger: Started, Session: session()}, true, 0},
		{"via outside CIDR", def(Started, func(d *Definition) { d.ViaAddressIn = []string{"203.0.113.0/24"} }), Input{Trigger: Started, Session: session()}, false, 0},
		{"no via address", def(Started, func(d *Definition) { d.ViaAddressIn = []string{"0.0.0.0/0"} }),
			Input{Trigger: Started, Session: session(func(s *Session) { s.Upstream.ClientHost = "PC1" })}, false, 0},
		{"via IPv6", def(Started, func(d *Definition) { d.ViaAddressIn = []string{"2001:db8::/32"} }),
			Input{Trigger: Started, Session: session(func(s *Session) { s.Upstream.ClientHost = "PC1 (via: [2001:db8::7])" })}, true, 0},

		// Business hours.
		{"outside business hours (night)", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "Australia/Sydney"} }),
			Input{Trigger: Started, Session: session(func(s *Session) { s.Upstream.CreationTime = sydneyNight })}, true, 0},
		{"inside business hours", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "Australia/Sydney"} }),
			Input{Trigger: Started, Session: session()}, false, 0},
		{"same instant is business hours in UTC? no: 00:00 UTC", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "UTC"} }),
			Input{Trigger: Started, Session: session()}, true, 0},
		{"weekend", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "Australia/Sydney"} }),
			Input{Trigger: Started, Session: session(func(s *Session) { s.Upstream.CreationTime = sydneyDay.AddDate(0, 0, 4) })}, true, 0},
		{"custom days include Saturday", def(Started, func(d *Definition) {
			d.OutsideBusinessHours = &BusinessHours{TimeZone: "Australia/Sydney", Days: []string{"SATURDAY"}, Start: "08:00", End: "12:00"}
		}), Input{Trigger: Started, Session: session(func(s *Session) { s.Upstream.CreationTime = sydneyDay.AddDate(0, 0, 4) })}, false, 0},
		{"ITEM hours use the event time", def(Item, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "Australia/Sydney"} }),
			Input{Trigger: Item, Session: session(), Events: []upstream.RestoreSessionEvent{
				event(upstream.EventTypeView, ceo, sydneyDay), event(upstream.EventTypeView, ceo+"/x", sydneyNight)}}, true, 1},

		// First restore from this machine (archive lookup).
		{"first from machine", def(Started, func(d *Definition) { d.FirstRestoreFromMachine = true }),
			Input{Trigger: Started, Session: session(), FirstFromMachine: func() (bool, error) { return true, nil }}, true, 0},
		{"seen machine before", def(Started, func(d *Definition) { d.FirstRestoreFromMachine = true }),
			Input{Trigger: Started, Session: session(), FirstFromMachine: func() (bool, error) { return false, nil }}, false, 0},
		{"no machine recorded is never a first", def(Started, func(d *Definition) { d.FirstRestoreFromMachine = true }),
			Input{Trigger: Started, Session: session(func(s *Session) { s.Upstream.ClientHost = "" }), FirstFromMachine: func() (bool, error) { return true, nil }}, false, 0},

		// Conditions combine with AND.
		{"seed: unknown machine, outside hours, CEO mailbox", def(Item, func(d *Definition) {
			d.ClientMachineNotIn = []string{"ADMIN-PC"}
			d.SourceContains = "ceo@"
			d.OutsideBusinessHours = &BusinessHours{TimeZone: "Australia/Sydney"}
		}), Input{Trigger: Item, Session: session(), Events: []upstream.RestoreSessionEvent{event(upstream.EventTypeView, ceo, sydneyNight)}}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compile(tt.def)
			if err != nil {
				t.Fatal(err)
			}
			m, ok, err := r.Evaluate(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.match {
				t.Fatalf("match = %v, want %v", ok, tt.match)
			}
			if ok && len(m.Events) != tt.nEv {
				t.Fatalf("%d matched events, want %d", len(m.Events), tt.nEv)
			}
		})
	}
}

func TestFirstFromMachineLookupIsLastAndErrorsPropagate(t *testing.T) {
	r, _ := Compile(def(Started, func(d *Definition) {
		d.FirstRestoreFromMachine = true
		d.Filter = &model.RestoreSessionFilter{Servers: []string{"mel1"}}
	}))
	called := false
	lookup := func() (bool, error) { called = true; return false, errors.New("db down") }
	if _, ok, err := r.Evaluate(Input{Trigger: Started, Session: session(), FirstFromMachine: lookup}); ok || err != nil || called {
		t.Fatalf("ok=%v err=%v called=%v: the lookup must not run when a cheaper condition fails", ok, err, called)
	}
	r, _ = Compile(def(Started, func(d *Definition) { d.FirstRestoreFromMachine = true }))
	if _, _, err := r.Evaluate(Input{Trigger: Started, Session: session(), FirstFromMachine: lookup}); err == nil || !called {
		t.Fatal("a failing lookup must surface")
	}
}

func TestCompileRefusesBadDefinitions(t *testing.T) {
	tests := []struct {
		name  string
		def   Definition
		field string
	}{
		{"no name", def(Ended, func(d *Definition) { d.Name = " " }), "name"},
		{"no url", def(Ended, func(d *Definition) { d.URL = "" }), "url"},
		{"bad trigger", def("SOMETIMES"), "on"},
		{"minItems on STARTED", def(Started, func(d *Definition) { d.MinItems = ptr(int64(1)) }), "minItems"},
		{"minBytes on ITEM", def(Item, func(d *Definition) { d.MinBytes = ptr(int64(1)) }), "minItems"},
		{"negative minItems", def(Ended, func(d *Definition) { d.MinItems = ptr(int64(-1)) }), "minItems"},
		{"event types on STARTED", def(Started, func(d *Definition) { d.EventTypes = []model.RestoreEventType{model.RestoreEventTypeView} }), "eventTypes"},
		{"NONE is not an item", def(Item, func(d *Definition) { d.EventTypes = []model.RestoreEventType{model.RestoreEventTypeNone} }), "eventTypes"},
		{"unknown event type", def(Item, func(d *Definition) { d.EventTypes = []model.RestoreEventType{"PRINT"} }), "eventTypes"},
		{"bad CIDR", def(Started, func(d *Definition) { d.ViaAddressIn = []string{"10.0.0.0/33"} }), "viaAddressIn"},
		{"empty machine", def(Started, func(d *Definition) { d.ClientMachineNotIn = []string{""} }), "clientMachineNotIn"},
		{"no zone", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{} }), "outsideBusinessHours.timeZone"},
		{"bad zone", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "Mars/Olympus"} }), "outsideBusinessHours.timeZone"},
		{"Local is not a zone", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "Local"} }), "outsideBusinessHours.timeZone"},
		{"bad day", def(Started, func(d *Definition) {
			d.OutsideBusinessHours = &BusinessHours{TimeZone: "UTC", Days: []string{"FUNDAY"}}
		}), "outsideBusinessHours.days"},
		{"bad start", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "UTC", Start: "9am"} }), "outsideBusinessHours.start"},
		{"bad end", def(Started, func(d *Definition) { d.OutsideBusinessHours = &BusinessHours{TimeZone: "UTC", End: "25:00"} }), "outsideBusinessHours.end"},
		{"start after end", def(Started, func(d *Definition) {
			d.OutsideBusinessHours = &BusinessHours{TimeZone: "UTC", Start: "18:00", End: "08:00"}
		}), "outsideBusinessHours.start"},
		{"bad organisation id", def(Started, func(d *Definition) { d.Filter = &model.RestoreSessionFilter{OrganizationIds: []string{"nope"}} }), "filter.organizationIds"},
		{"inverted window", def(Started, func(d *Definition) {
			d.Filter = &model.RestoreSessionFilter{StartTimeFrom: ptr(sydneyDay), StartTimeTo: ptr(sydneyNight)}
		}), "filter.startTimeFrom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.def)
			var ie *model.InputError
			if !errors.As(err, &ie) || ie.Field != tt.field {
				t.Fatalf("Compile = %v, want an InputError on %s", err, tt.field)
			}
		})
	}
}

func TestDefinitionRoundTripsThroughJSON(t *testing.T) {
	d := def(Ended, func(d *Definition) {
		d.Filter = &model.RestoreSessionFilter{Servers: []string{"syd1"}, Types: []model.RestoreSessionType{model.RestoreSessionTypeExchange}}
		d.MinItems = ptr(int64(10))
		d.EventTypes = []model.RestoreEventType{model.RestoreEventTypeExport}
		d.ViaAddressIn = []string{"198.51.100.0/24"}
		d.OutsideBusinessHours = &BusinessHours{TimeZone: "Europe/Berlin", Start: "08:30", End: "18:00"}
		d.FirstRestoreFromMachine = true
	})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Definition
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the definition:\n%s\n%s", b, b2)
	}
	if _, err := Compile(back); err != nil {
		t.Fatal(err)
	}
}

func TestPayloadShape(t *testing.T) {
	s := session()
	ev := event(upstream.EventTypeView, "/Mailboxes/ceo@contoso.com", sydneyNight)
	p := NewPayload("rule-1", def(Item), Item, s, []upstream.RestoreSessionEvent{ev}, sydneyNight)
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	data := got["data"].(map[string]any)
	checks := map[string]any{
		"type":                        "restore.item",
		"rule.id":                     "rule-1",
		"data.id":                     s.ID(),
		"data.organization.name":      "Contoso",
		"data.organization.id":        orgGID("syd1", s.OrgID),
		"data.server.name":            "syd1",
		"data.type":                   "EXCHANGE",
		"data.clientHost.machineName": "UNKNOWN-PC",
		"data.clientHost.viaAddress":  "198.51.100.7",
		"data.totals.items":           float64(12),
	}
	for path, want := range checks {
		var v any = got
		for _, k := range strings.Split(path, ".") {
			v = v.(map[string]any)[k]
		}
		if v != want {
			t.Errorf("%s = %v, want %v", path, v, want)
		}
	}
	evs := data["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["type"] != "VIEW" || evs[0].(map[string]any)["source"] != "/Mailboxes/ceo@contoso.com" {
		t.Fatalf("events = %v", evs)
	}
	id, err := gid.ParseKind(evs[0].(map[string]any)["id"].(string), gid.KindRestoreEvent)
	if err != nil || id.Parent != s.Upstream.ID {
		t.Fatalf("event id %v (%v)", id, err)
	}
}
