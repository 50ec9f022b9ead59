package telemetry

import "testing"

// TestLogPathHidesDownloadTokens: a restore download link is a capability (usable once, by its
// person, for minutes); the access line names its route but never the token.
func TestLogPathHidesDownloadTokens(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/download/Zx9kQ2b7dHk3c2VjcmV0LXRva2VuLWJ5dGVz": "/download/<token>",
		"/console/download/abc":                          "/console/download/<token>",
		"/download/":                                     "/download/",
		"/graphql":                                       "/graphql",
		"/export/restore-audit.csv":                      "/export/restore-audit.csv",
	} {
		if got := logPath(in); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}
