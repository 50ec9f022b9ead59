package console

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestConsoleDownloadLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/download/abc_DEF-1", "/console/download/abc_DEF-1", true},
		{"https://gw.example/download/tok", "/console/download/tok", true},
		{"/download/", "", false},
		{"/download/a/b", "", false},
		{"/export/x", "", false},
		{"javascript:alert(1)", "", false},
	} {
		got, ok := consoleDownloadLink(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("consoleDownloadLink(%q) = %q %v, want %q %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRecipients(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"a@x.test":                       {"a@x.test"},
		" a@x.test, b@x.test;c@x.test\n": {"a@x.test", "b@x.test", "c@x.test"},
		" , ;":                           nil,
	} {
		if got := recipients(in); !slices.Equal(got, want) {
			t.Errorf("recipients(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewKeyIsFresh(t *testing.T) {
	t.Parallel()
	a, b := newKey(), newKey()
	if a == b || len(a) < 32 {
		t.Errorf("newKey gave %q and %q", a, b)
	}
}

// The confirmation page's form becomes restoreItemsToOriginal's input: the box must be ticked
// and the key present; the Teams switches are false unless ticked, true when ticked, and a
// forged value is refused rather than read as either.
func TestOriginalInput(t *testing.T) {
	t.Parallel()
	items := []selectedItem{{ID: "i1", Name: "a team"}, {ID: "i2"}}
	base := func(kv ...string) url.Values {
		v := url.Values{"confirm": {"yes"}, "key": {"k1"}, "conflict": {"MERGE"}, "reason": {"put back"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
				continue
			}
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name              string
		form              url.Values
		members, settings bool
		err               string
	}{
		{"no switches", base(), false, false, ""},
		{"members", base("restoreMembers", "yes"), true, false, ""},
		{"settings", base("restoreSettings", "yes"), false, true, ""},
		{"both", base("restoreMembers", "yes", "restoreSettings", "yes"), true, true, ""},
		{"forged switch", base("restoreMembers", "true"), false, false, "restoreMembers switch"},
		{"not confirmed", base("confirm", ""), false, false, "tick the confirmation box"},
		{"confirmed otherwise", base("confirm", "on"), false, false, "tick the confirmation box"},
		{"no key", base("key", ""), false, false, "idempotency key"},
	} {
		in, err := originalInput("s1", items, tc.form)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want one saying %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		want := map[string]any{"sessionId": "s1", "itemIds": []string{"i1", "i2"}, "reason": "put back", "idempotencyKey": "k1",
			"conflict": "MERGE", "confirm": true, "restoreMembers": tc.members, "restoreSettings": tc.settings}
		if !reflect.DeepEqual(in, want) {
			t.Errorf("%s: input %v, want %v", tc.name, in, want)
		}
	}
}

// The confirmation page shows the Teams switches for a team's session only.
func TestConfirmPageTeamsSwitches(t *testing.T) {
	t.Parallel()
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, teams := range []bool{true, false} {
		var b strings.Builder
		err := pages["restoreconfirm"].ExecuteTemplate(&b, "layout.html", pageData{Title: "Confirm", Session: &sessionView{CSRF: "c"},
			Data: map[string]any{"SessionID": "s1", "Items": []selectedItem{{ID: "i1", Name: "Sales"}}, "Key": "k",
				"Conflicts": []string{"KEEP"}, "Teams": teams}})
		if err != nil {
			t.Fatal(err)
		}
		page := b.String()
		for _, sw := range []string{`name="restoreMembers" value="yes"`, `name="restoreSettings" value="yes"`} {
			if strings.Contains(page, sw) != teams {
				t.Errorf("teams %v: the page has %s: %v", teams, sw, !teams)
			}
		}
	}
}
