package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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

// linkCases are link dictionaries the stream decoder must read as encoding/json reads a plain
// map[string]Link (the differential test and the fuzz target's seeds).
var linkCases = []string{
	`{"self":{"href":"/v6/RestoreSessions/a"},"events":{"href":"/v6/RestoreSessions/a/Events"}}`,
	`{}`,
	`null`,
	`{"self":null}`,
	`{"self":{}}`,
	`{"self":{"href":null}}`,
	`{"self":{"href":"a","href":null}}`,
	`{"self":{"href":"a","href":"bb"}}`,
	`{"self":{"href":"a"},"self":{"href":"b"}}`,
	`{"self":{"href":"a"},"self":null}`,
	`{"self":{"HREF":"a"},"events":{"hReF":"b"},"x":{"hr\u0065f":"c"}}`,
	`{"self":{"href_":"a","hreſ":"b","h-ref":"c"}}`,
	`{"self":{"title":"t","href":"a","templated":true,"x":{"y":[1,{"z":null}]}}}`,
	`{"se\u006cf":{"href":"/v6/x\u002fy\n\"q\""}}`,
	`{"self":{"href":"a\ud800b"},"\udc00":{"href":"c"}}`,
	"{\"s\xffelf\":{\"href\":\"a\xfeb\"}}",
	`{"":{"href":""}}`,
	`{"a":{"href":"1"},"b":{"href":"2"},"c":{"href":"3"},"d":{"href":"4"},"e":{"href":"5"},"f":{"href":"6"},"g":{"href":"7"},"h":{"href":"8"},"i":{"href":"9"},"a":{"href":"10"},"j":{"href":"11"}}`,
	`{"self":"x"}`,
	`{"self":[]}`,
	`{"self":1}`,
	`{"self":{"href":1}}`,
	`{"self":{"href":true}}`,
	`{"self":{"href":{}}}`,
	`{"self":{"href":"a"}`,
	`{"self":{"href":"a"},}`,
	// Members too long to be an escaped "href", and input that ends inside a link.
	`{"self":{"a_member_name_longer_than_any_href":"x","href":"a"}}`,
	`{"self":{"href":"a",`,
	`{"self":{"title":`,
	`{"self":{"href":`,
	`{"self":{"href":"a"}`,
	`{"self"`,
	`["a"]`,
	`"x"`,
}

// TestLinksMatchEncodingJSON: a link dictionary decodes from the stream (what the client uses)
// exactly as encoding/json decodes a plain map[string]Link: the same links, and an error
// exactly where encoding/json has one.
func TestLinksMatchEncodingJSON(t *testing.T) {
	for _, in := range linkCases {
		if err := linksMatch([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// FuzzLinksMatchEncodingJSON: whatever a server sends as a link dictionary, the stream decoder
// agrees with encoding/json, but for refusing more than maxLinks links.
func FuzzLinksMatchEncodingJSON(f *testing.F) {
	for _, in := range linkCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := linksMatch(in); err != nil {
			t.Fatal(err)
		}
	})
}

// linksMatch compares the stream decoder's Links with encoding/json's map[string]Link for in.
func linksMatch(in []byte) error {
	var want map[string]Link
	errV1 := json.NewDecoder(bytes.NewReader(in)).Decode(&want)
	var got Links
	err := decodeValue(newDecoder(bytes.NewReader(in)), &got)
	if errors.Is(err, ErrTooManyItems) {
		if errV1 == nil && len(want) <= maxLinks {
			return fmt.Errorf("refused as too many links, encoding/json read %d", len(want))
		}
		return nil
	}
	if (errV1 == nil) != (err == nil) {
		return fmt.Errorf("encoding/json err %v, stream err %v", errV1, err)
	}
	if err == nil && (!reflect.DeepEqual(map[string]Link(got), want) || (got == nil) != (want == nil)) {
		return fmt.Errorf("encoding/json %#v, stream %#v", want, got)
	}
	return nil
}
