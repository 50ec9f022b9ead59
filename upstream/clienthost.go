package upstream

import "strings"

// ClientHost is VBO's clientHost string taken apart. VBO v6 reports either a plain host name
// or address ("BXYDEV01", "10.1.2.3", "fe80::1") or a host seen through a gateway
// ("BXYDEV01 (via: 203.0.113.7)").
type ClientHost struct {
	Raw         string // the string as VBO sent it
	MachineName string // the client machine (host name or address); "" when unknown
	ViaAddress  string // the gateway or proxy the restore came through; "" when none
}

// ParseClientHost splits a clientHost string. It never fails: anything it cannot read is kept
// in Raw, and MachineName is the trimmed text before any "(via: ...)" part.
func ParseClientHost(raw string) ClientHost {
	ch := ClientHost{Raw: raw}
	s := strings.TrimSpace(raw)
	if s == "" {
		return ch
	}
	if open := lastIndexFoldASCII(s, "(via:"); open >= 0 {
		rest := s[open+len("(via:"):]
		if end := strings.IndexByte(rest, ')'); end >= 0 {
			rest = rest[:end]
		}
		ch.ViaAddress = trimHost(rest)
		s = s[:open]
	}
	ch.MachineName = trimHost(s)
	return ch
}

// trimHost trims spaces and IPv6 brackets.
func trimHost(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// lastIndexFoldASCII is strings.LastIndex with ASCII case folding; unlike lower-casing the whole
// string first, it keeps byte offsets valid for any input.
func lastIndexFoldASCII(s, substr string) int {
	for i := len(s) - len(substr); i >= 0; i-- {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return i
		}
	}
	return -1
}
