package resolvers

import (
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// DedupeServerErrors keeps one upstream error per failed server in a response: a server that is
// down fails every field that needs it (each organisation's sessions, each session's events),
// but the client is told once, on the path of the first field that failed. Errors that name no
// server (the request deadline) are kept once per code. Other errors pass through unchanged
// and in order, except ORG_NAME_AMBIGUOUS: one per organisation (several fields may withhold
// the same organisation's sessions).
func DedupeServerErrors(list gqlerror.List) gqlerror.List {
	if len(list) < 2 {
		return list
	}
	seen := map[string]bool{}
	out := list[:0:0]
	for _, e := range list {
		if e != nil && e.Extensions != nil {
			code, _ := e.Extensions["code"].(string)
			server, _ := e.Extensions["server"].(string)
			if code == CodeUpstreamUnavailable || code == CodeUpstreamTimeout || code == CodeUpstreamError {
				// Without a server (the request's own deadline), one error per code is enough.
				key := server
				if key == "" {
					key = "\x00" + code
				}
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			if org, _ := e.Extensions["organizationId"].(string); code == CodeOrgNameAmbiguous && org != "" {
				if seen["\x01"+org] {
					continue
				}
				seen["\x01"+org] = true
			}
		}
		out = append(out, e)
	}
	return out
}
