package upstream

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Bounded, streaming decoding of VBO answers.
//
// The byte cap on a response (maxResponseBody) does not bound what it decodes to: 6 MB of `{}`
// is two million items, each a whole struct once decoded. So lists are decoded one item at a
// time from the stream, and a list that holds more items than the call can legitimately get
// (the page size asked for plus a small margin; MaxOrganizations for an organisation listing;
// maxLinks for a HAL link dictionary) fails with ErrTooManyItems before the excess is decoded.

// ErrTooManyItems: a response held more items than the call asked for (a broken or hostile
// server). errors.Is(err, ErrTooManyItems) holds for the *Error the call returns.
var ErrTooManyItems = errors.New("vbo: response holds too many items")

const (
	// pageMargin is how many items a page may hold beyond the limit asked for.
	pageMargin = 16
	// MaxOrganizations bounds one server's organisation listing (all pages together).
	MaxOrganizations = 20_000
	// maxLinks bounds one HAL link dictionary (VBO sends a handful).
	maxLinks = 64
)

// pageBound is the most items a page fetched with limit may hold. No limit asked means the
// server's default page, which is never more than MaxPageSize.
func pageBound(limit int) int {
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	return limit + pageMargin
}

// tooManyItems is the detail behind ErrTooManyItems.
func tooManyItems(what string, bound int) error {
	return fmt.Errorf("%w: %s holds more than %d", ErrTooManyItems, what, bound)
}

// decodeOptions are the JSON semantics VBO answers are read with (encoding/json/v2's prototype,
// github.com/go-json-experiment/json, which reads a stream in one pass where encoding/json scans
// every value twice), encoding/json's where they differ: names match case-insensitively as
// strings.EqualFold does (v2 alone would also ignore '_' and '-': "accessToken" would fill
// access_token), duplicate names and invalid UTF-8 are tolerated, and time.Time parses RFC 3339
// as loosely as time.Time.UnmarshalJSON does (v2 alone refuses what it lets through, such as a
// single-digit hour or a ',' before the fraction), a null leaves a string, number or bool as
// it was (a duplicate name's null does not erase the value before it); unknown names are
// ignored.
// TestDecodeMatchesEncodingJSON, TestDecodeItemsMatchEncodingJSON and
// FuzzDecodeItemsMatchEncodingJSON hold them to encoding/json; the one difference known is a
// time string holding escapes, which encoding/json refuses (TestDecodeEscapedTimeDiverges).
var decodeOptions = json.JoinOptions(
	json.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true),
	jsonv1.ParseTimeWithLooseRFC3339(true),
	jsonv1.MergeWithLegacySemantics(true),
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// newDecoder reads one VBO answer from r.
func newDecoder(r io.Reader) *jsontext.Decoder { return jsontext.NewDecoder(r, decodeOptions) }

// decodeValue decodes the next value of dec into v.
func decodeValue(dec *jsontext.Decoder, v any) error {
	return json.UnmarshalDecode(dec, v, decodeOptions)
}

// streamDecoder is a decode target that reads itself from the stream with bounds. send uses it
// instead of decodeValue when the target implements it.
type streamDecoder interface {
	decodeStream(dec *jsontext.Decoder) error
}

// boundedPage decodes a Page[T] of at most max results; expect is how many the call asked for
// (0: unknown), which sizes the result slice up front.
type boundedPage[T any] struct {
	page   *Page[T]
	max    int
	expect int
}

// pageOf is the bounded decoder of a page fetched with limit.
func pageOf[T any](page *Page[T], limit int) boundedPage[T] {
	return boundedPage[T]{page: page, max: pageBound(limit), expect: limit}
}

func (b boundedPage[T]) decodeStream(dec *jsontext.Decoder) error {
	p := b.page
	return decodeMembers(dec, func(name string) (bool, error) {
		switch {
		case strings.EqualFold(name, "results"):
			return true, decodeList(dec, "a page", b.max, b.expect, &p.Results)
		case strings.EqualFold(name, "offset"):
			return true, decodeValue(dec, &p.Offset)
		case strings.EqualFold(name, "limit"):
			return true, decodeValue(dec, &p.Limit)
		case strings.EqualFold(name, "setId"):
			return true, decodeValue(dec, &p.SetID)
		case strings.EqualFold(name, "totalCount"):
			return true, decodeValue(dec, &p.TotalCount)
		case strings.EqualFold(name, "_links"):
			return true, decodeValue(dec, &p.Links)
		}
		return false, nil
	})
}

// decodeMembers reads a JSON object (null reads as nothing), handing each member's name to
// member, which decodes the value it knows and reports whether it did; other values are
// skipped. Names compare as the caller decides (VBO's are case-insensitive).
func decodeMembers(dec *jsontext.Decoder, member func(name string) (bool, error)) error {
	if null, err := openDelim(dec, '{'); err != nil || null {
		return err
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		done, err := member(tok.String())
		if err == nil && !done {
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.ReadToken() // '}'
	return err
}

// boundedList decodes a JSON array of at most max items.
type boundedList[T any] struct {
	list *[]T
	what string
	max  int
}

func (b boundedList[T]) decodeStream(dec *jsontext.Decoder) error {
	return decodeList(dec, b.what, b.max, 0, b.list)
}

// decodeList decodes an array (or null) item by item into dst, failing once it holds more
// than max items. Items decode in place, into the slice's next element (a RestoreSession is
// some 240 bytes: no copy per item). expect (0: unknown) is how many items the caller asked
// for: see growList. As encoding/json, the array replaces what dst held (a duplicate name's
// list is not appended to the first one's) and null empties it.
func decodeList[T any](dec *jsontext.Decoder, what string, max, expect int, dst *[]T) error {
	if null, err := openDelim(dec, '['); err != nil || null {
		if null {
			*dst = nil
		}
		return err
	}
	list := (*dst)[:0]
	if list == nil {
		list = []T{} // as encoding/json: [] is an empty list, not none (no allocation)
	}
	defer func() { *dst = list }()
	for dec.PeekKind() != ']' {
		if len(list) >= max {
			return tooManyItems(what, max)
		}
		if len(list) == cap(list) {
			list = growList(list, expect, max)
		}
		var zero T
		list = append(list, zero) // within the room made above
		if err := decodeValue(dec, &list[len(list)-1]); err != nil {
			list = list[:len(list)-1]
			return err
		}
	}
	if len(list) < cap(list)/2 {
		// A page much shorter than asked for: do not keep (nor cache) the room it left.
		list = slices.Clone(list)
	}
	_, err := dec.ReadToken() // ']'
	return err
}

const (
	// firstListCap is the most room a list starts with before its items show up. The limit
	// asked is no guide to the answer's length: a session's events are read with a limit of
	// 10,000 and most sessions have a few dozen, so starting at the limit (or at 1,024) zeroed
	// a quarter of a megabyte per events call (a third of the gateway's CPU on the dashboard).
	firstListCap = 64
	// unknownListCap is the room a list of unknown length starts with.
	unknownListCap = 16
)

// growList returns a full list with room for more items, in a list of at most max. The first
// allocation trusts the number expected up to firstListCap (a 51-row page is sized exactly, a
// short answer to a 10,000-row ask wastes at most firstListCap items); later ones quadruple,
// stopping at the number expected, so a full 10,000-session page takes five allocations (64,
// 256, 1,024, 4,096, 10,000) where append's growth took some twenty and allocated four times
// the final slice in all.
func growList[T any](list []T, expect, max int) []T {
	n := 4 * cap(list)
	switch {
	case cap(list) == 0 && expect > 0:
		n = min(expect, firstListCap)
	case cap(list) == 0:
		n = unknownListCap
	case cap(list) < expect:
		n = min(n, expect)
	}
	grown := make([]T, len(list), min(n, max))
	copy(grown, list)
	return grown
}

// openDelim reads the opening delimiter want ('{' or '['), or a null (true).
func openDelim(dec *jsontext.Decoder, want jsontext.Kind) (null bool, err error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return false, err
	}
	switch tok.Kind() {
	case 'n':
		return true, nil
	case want:
		return false, nil
	}
	return false, fmt.Errorf("want %q, got %v", rune(want), tok.Kind())
}
