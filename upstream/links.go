package upstream

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// Decoding HAL link dictionaries.
//
// Every item of a page carries one (a session: self and events; an event: self and
// restoreSession; an organisation: self), so decoding them generically (a decodeValue call and
// a heap Link per link, a string per name and per href) was a third of a page's allocations.
// Here a dictionary costs its map and one string: the names and hrefs of up to linkBatch links
// are unquoted into a scratch buffer, then share one backing string. The links of a
// dictionary live and die with its map, so sharing keeps nothing alive longer.
//
// The result is what encoding/json makes of a map[string]Link (TestLinksMatchEncodingJSON,
// FuzzLinksMatchEncodingJSON): the last of duplicate names wins, "href" matches in any letter
// case, a null link is a zero Link, a null href leaves the href as it was, other members of a
// link are skipped, and invalid UTF-8 becomes U+FFFD.

// linkBatch is how many links share one backing string (a hostile dictionary repeating one
// name a million times must not make the survivor pin a string of all the others).
const linkBatch = 8

// pendingLink is a link read into the scratch buffer but not yet into the map:
// buf[start:nameEnd] is its name, buf[nameEnd:hrefEnd] its href.
type pendingLink struct{ start, nameEnd, hrefEnd int }

// UnmarshalJSONFrom decodes a HAL link dictionary of at most maxLinks links from the stream.
func (l *Links) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	null, err := openDelim(dec, '{')
	if err != nil || null {
		*l = nil
		return err
	}
	var (
		out     Links
		scratch [256]byte
		buf     = scratch[:0]
		pending [linkBatch]pendingLink
		n       int // pending links
	)
	flush := func() {
		if out == nil {
			out = make(Links, n)
		}
		backing := string(buf)
		for _, p := range pending[:n] {
			out[backing[p.start:p.nameEnd]] = Link{Href: backing[p.nameEnd:p.hrefEnd]}
		}
		buf, n = buf[:0], 0
	}
	for dec.PeekKind() != '}' {
		if n == len(pending) || len(out)+n >= maxLinks {
			flush() // now len(out) counts distinct names exactly
		}
		if len(out) >= maxLinks {
			return tooManyItems("a link dictionary", maxLinks)
		}
		name, err := dec.ReadValue()
		if err != nil {
			return err
		}
		p := pendingLink{start: len(buf)}
		buf = appendUnquoted(buf, name)
		p.nameEnd = len(buf)
		if buf, err = appendHref(dec, buf); err != nil {
			return err
		}
		p.hrefEnd = len(buf)
		pending[n] = p
		n++
	}
	if _, err := dec.ReadToken(); err != nil { // '}'
		return err
	}
	flush()
	*l = out
	return nil
}

// UnmarshalJSON decodes a HAL link dictionary of at most maxLinks links (for encoding/json).
func (l *Links) UnmarshalJSON(b []byte) error {
	return l.UnmarshalJSONFrom(newDecoder(bytes.NewReader(b)))
}

// appendHref reads one link, {"href": "..."} or null, and appends its href to buf.
func appendHref(dec *jsontext.Decoder, buf []byte) ([]byte, error) {
	null, err := openDelim(dec, '{')
	if err != nil || null {
		return buf, err
	}
	start := len(buf)
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return buf, err
		}
		if !isHref(name) {
			if err := dec.SkipValue(); err != nil {
				return buf, err
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return buf, err
		}
		switch v.Kind() {
		case 'n': // encoding/json leaves a field as it was on null
		case '"':
			buf = appendUnquoted(buf[:start], v) // a later href replaces an earlier one
		default:
			return buf, fmt.Errorf("a link's href: want a string, got %v", v.Kind())
		}
	}
	_, err = dec.ReadToken() // '}'
	return buf, err
}

// isHref reports whether the member name (a JSON string as read) is "href" as encoding/json
// matches names (strings.EqualFold: only ASCII letters fold to h, r, e and f, so the name
// unquotes to 4 bytes and is at most 4 escapes long).
func isHref(name jsontext.Value) bool {
	if string(name) == `"href"` {
		return true
	}
	if len(name) > len(`"\u0068\u0072\u0065\u0066"`) {
		return false
	}
	var b [32]byte
	return bytes.EqualFold(appendUnquoted(b[:0], name), []byte("href"))
}

// appendUnquoted appends the content of the JSON string v, as read from the decoder, to dst.
// The decoder has checked v's syntax, so the only error AppendUnquote can report is invalid
// UTF-8, which decodeOptions tolerate: like every string the client decodes, it then holds
// U+FFFD in place of the invalid bytes.
func appendUnquoted(dst []byte, v jsontext.Value) []byte {
	dst, _ = jsontext.AppendUnquote(dst, v)
	return dst
}
