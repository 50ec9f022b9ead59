package upstream

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseClientHost(t *testing.T) {
	tests := []struct {
		raw, machine, via string
	}{
		{"BXYDEV01 (via: 203.0.113.7)", "BXYDEV01", "203.0.113.7"},
		{"BXYDEV01 (via:203.0.113.7)", "BXYDEV01", "203.0.113.7"},
		{"  ws-042.corp.contoso.com  (VIA: 10.0.0.1) ", "ws-042.corp.contoso.com", "10.0.0.1"},
		{"BXYDEV01", "BXYDEV01", ""},
		{"10.1.2.3", "10.1.2.3", ""},
		{"fe80::1", "fe80::1", ""},
		{"[2001:db8::7]", "2001:db8::7", ""},
		{"HOST (via: [2001:db8::1])", "HOST", "2001:db8::1"},
		{"HOST (via: 2001:db8::1)", "HOST", "2001:db8::1"},
		{"", "", ""},
		{"   ", "", ""},
		{"(via: 1.2.3.4)", "", "1.2.3.4"},
		{"HOST (via: 1.2.3.4", "HOST", "1.2.3.4"},
		{"HOST (via: )", "HOST", ""},
		{"A (via: B) (via: C)", "A (via: B)", "C"},
		{"HOST (something else)", "HOST (something else)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got := ParseClientHost(tt.raw)
			if got.Raw != tt.raw || got.MachineName != tt.machine || got.ViaAddress != tt.via {
				t.Errorf("ParseClientHost(%q) = %+v, want machine %q via %q", tt.raw, got, tt.machine, tt.via)
			}
		})
	}
}

func FuzzParseClientHost(f *testing.F) {
	for _, s := range []string{"BXYDEV01 (via: 203.0.113.7)", "10.1.2.3", "fe80::1", "", "(via:", "((via: )", "[]", "x (VIA: [::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := ParseClientHost(raw)
		if got.Raw != raw {
			t.Fatalf("Raw changed: %q -> %q", raw, got.Raw)
		}
		if len(got.MachineName) > len(raw) || len(got.ViaAddress) > len(raw) {
			t.Fatalf("parts longer than input: %+v", got)
		}
		if got.MachineName != strings.TrimSpace(got.MachineName) || got.ViaAddress != strings.TrimSpace(got.ViaAddress) {
			t.Fatalf("parts not trimmed: %+v", got)
		}
		if utf8.ValidString(raw) && (!utf8.ValidString(got.MachineName) || !utf8.ValidString(got.ViaAddress)) {
			t.Fatalf("valid UTF-8 input gave invalid parts: %+v", got)
		}
		if !strings.Contains(raw, got.MachineName) {
			t.Fatalf("machine %q not in input %q", got.MachineName, raw)
		}
	})
}
