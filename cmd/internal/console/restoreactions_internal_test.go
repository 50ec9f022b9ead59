package console

import (
	"slices"
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
