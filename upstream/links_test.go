package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestLinksUnmarshal: a link dictionary decodes the same through encoding/json (UnmarshalJSON)
// and from a stream (UnmarshalJSONFrom, what the client uses), and both refuse more than
// maxLinks.
func TestLinksUnmarshal(t *testing.T) {
	dict := func(n int, pad string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`"l%d":{"href":"/v6/x/%d%s"}`, i, i, pad)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	long := strings.Repeat("p", 200)
	for _, tc := range []struct {
		name    string
		in      string
		want    int  // links
		null    bool // a nil map
		tooMany bool
		bad     bool
	}{
		{name: "two", in: `{"self":{"href":"/v6/RestoreSessions/a"},"events":{"href":"/v6/RestoreSessions/a/Events"}}`, want: 2},
		{name: "empty", in: `{}`},
		{name: "null", in: `null`, null: true},
		{name: "maxLinks, small", in: dict(maxLinks, ""), want: maxLinks},
		{name: "maxLinks, large", in: dict(maxLinks, long), want: maxLinks},
		{name: "one too many, small", in: dict(maxLinks+1, ""), tooMany: true},
		{name: "one too many, large", in: dict(maxLinks+1, long), tooMany: true},
		{name: "thousands, large", in: dict(5000, ""), tooMany: true},
		{name: "not an object", in: `["a"]`, bad: true},
		{name: "bad link", in: `{"self":"x"}`, bad: true},
	} {
		for _, dec := range []struct {
			name string
			fn   func(string, *Links) error
		}{
			{"encoding/json", func(in string, l *Links) error { return json.Unmarshal([]byte(in), l) }},
			{"stream", func(in string, l *Links) error { return decodeValue(newDecoder(strings.NewReader(in)), l) }},
		} {
			t.Run(tc.name+"/"+dec.name, func(t *testing.T) {
				var l Links
				err := dec.fn(tc.in, &l)
				switch {
				case tc.tooMany:
					if !errors.Is(err, ErrTooManyItems) {
						t.Fatalf("err = %v, want ErrTooManyItems", err)
					}
				case tc.bad:
					if err == nil {
						t.Fatal("accepted")
					}
				case err != nil:
					t.Fatal(err)
				case (l == nil) != tc.null || len(l) != tc.want:
					t.Fatalf("got %d links (nil %v), want %d (nil %v)", len(l), l == nil, tc.want, tc.null)
				case tc.want > 0 && !strings.HasPrefix(l[firstKey(l)].Href, "/v6/"):
					t.Fatalf("links %v", l)
				}
			})
		}
	}
}

func firstKey(l Links) string {
	for k := range l {
		return k
	}
	return ""
}
