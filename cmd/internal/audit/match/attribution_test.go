package match

import (
	"encoding/json"
	"testing"
	"time"
)

// startedOutsideGateway: true matches only sessions started outside the gateway, false only
// those started through it, nil either; a pending attribution matches neither way (the watcher
// re-evaluates it once decided). The condition holds on every trigger.
func TestStartedOutsideGateway(t *testing.T) {
	t.Parallel()
	outside := session()
	through := session(func(s *Session) {
		s.Attribution = Attribution{ThroughGateway: true, Person: "alice", Tenant: "t1", Reason: "ticket 42"}
	})
	pending := session(func(s *Session) { s.Attribution = Attribution{Pending: true} })
	cond := func(v *bool) func(*Definition) { return func(d *Definition) { d.StartedOutsideGateway = v } }
	yes, no := true, false
	tests := []struct {
		name    string
		on      Trigger
		v       *bool
		s       *Session
		matches bool
	}{
		{"outside wanted, outside", Started, &yes, outside, true},
		{"outside wanted, through", Started, &yes, through, false},
		{"outside wanted, pending", Started, &yes, pending, false},
		{"through wanted, through", Started, &no, through, true},
		{"through wanted, outside", Started, &no, outside, false},
		{"through wanted, pending", Started, &no, pending, false},
		{"either, through", Started, nil, through, true},
		{"either, outside", Started, nil, outside, true},
		{"ENDED outside wanted, through", Ended, &yes, through, false},
		{"ENDED outside wanted, outside", Ended, &yes, outside, true},
	}
	for _, tc := range tests {
		r, err := Compile(def(tc.on, cond(tc.v)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, ok, err := r.Evaluate(Input{Trigger: tc.on, Session: tc.s})
		if err != nil || ok != tc.matches {
			t.Errorf("%s: match %v (err %v), want %v", tc.name, ok, err, tc.matches)
		}
	}
}

// The condition is stored with the rule (JSON) and read back; absent stays absent (either).
func TestStartedOutsideGatewayRoundTrips(t *testing.T) {
	t.Parallel()
	for _, v := range []*bool{nil, ptr(true), ptr(false)} {
		d := def(Started, func(d *Definition) { d.StartedOutsideGateway = v })
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Definition
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if (back.StartedOutsideGateway == nil) != (v == nil) || v != nil && *back.StartedOutsideGateway != *v {
			t.Errorf("%s: read back %v, want %v", b, back.StartedOutsideGateway, v)
		}
	}
}

// Every payload carries the attribution: the person's record for a session started through
// the gateway, throughGateway false and nulls otherwise.
func TestPayloadCarriesAttribution(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	through := session(func(s *Session) {
		s.Attribution = Attribution{ThroughGateway: true, Person: "alice", DisplayName: "Alice A", Tenant: "t1", Reason: "ticket 42"}
	})
	for _, tc := range []struct {
		s    *Session
		want string
	}{
		{through, `{"throughGateway":true,"person":"alice","displayName":"Alice A","tenant":"t1","reason":"ticket 42"}`},
		{session(), `{"throughGateway":false,"person":null,"displayName":null,"tenant":null,"reason":null}`},
	} {
		for _, on := range []Trigger{Started, Ended, Item} {
			b, err := NewPayload("r1", def(on), on, tc.s, nil, now).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var p struct {
				Data struct {
					Attribution json.RawMessage `json:"attribution"`
				} `json:"data"`
			}
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			if string(p.Data.Attribution) != tc.want {
				t.Errorf("%s: attribution %s, want %s", on, p.Data.Attribution, tc.want)
			}
		}
	}
}
