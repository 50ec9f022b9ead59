package config

import (
	"strings"
	"testing"
)

func TestSubscriptionLimits(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want Subscriptions
		err  string // "" when valid
	}{
		{"defaults", "", Subscriptions{DefaultSubscriptionsPerPrincipal, DefaultSubscriptionsTotal}, ""},
		{"set", "limits: {subscriptions: {perPrincipal: 2, total: 100}}", Subscriptions{2, 100}, ""},
		{"one set, the other defaulted", "limits: {subscriptions: {perPrincipal: 4}}", Subscriptions{4, DefaultSubscriptionsTotal}, ""},
		{"no bounds", "limits: {subscriptions: {perPrincipal: -1, total: -1}}", Subscriptions{-1, -1}, ""},
		{"perPrincipal above total is allowed (total binds first)", "limits: {subscriptions: {perPrincipal: 50, total: 10}}", Subscriptions{50, 10}, ""},
		{"negative perPrincipal", "limits: {subscriptions: {perPrincipal: -2}}", Subscriptions{-2, DefaultSubscriptionsTotal}, "limits.subscriptions"},
		{"negative total", "limits: {subscriptions: {total: -7}}", Subscriptions{DefaultSubscriptionsPerPrincipal, -7}, "limits.subscriptions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := cfgtMustParse(t, cfgtServers+tc.yaml).Limits.WithDefaults()
			if l.Subscriptions != tc.want {
				t.Errorf("subscriptions = %+v, want %+v", l.Subscriptions, tc.want)
			}
			err := l.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Validate: %v, want an error naming %s", err, tc.err)
			}
		})
	}
	// Zero never survives WithDefaults; set directly, it is refused.
	l := Limits{}.WithDefaults()
	l.Subscriptions.Total = 0
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "limits.subscriptions") {
		t.Errorf("total 0 after defaults: %v, want refused", err)
	}
}
