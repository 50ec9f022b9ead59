package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// streamDecoder is a decode target that reads itself from the stream with bounds. send uses it
// instead of json.Decoder.Decode when the target implements it.
type streamDecoder interface {
	decodeStream(dec *json.Decoder) error
}

// boundedPage decodes a Page[T] of at most max results.
type boundedPage[T any] struct {
	page *Page[T]
	max  int
}

func (b boundedPage[T]) decodeStream(dec *json.Decoder) error {
	if null, err := openDelim(dec, '{'); err != nil || null {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		p := b.page
		switch strings.ToLower(key) {
		case "results":
			err = decodeList(dec, "a page", b.max, &p.Results)
		case "offset":
			err = dec.Decode(&p.Offset)
		case "limit":
			err = dec.Decode(&p.Limit)
		case "setid":
			err = dec.Decode(&p.SetID)
		case "totalcount":
			err = dec.Decode(&p.TotalCount)
		case "_links":
			err = dec.Decode(&p.Links)
		default:
			err = skipValue(dec)
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

// boundedList decodes a JSON array of at most max items.
type boundedList[T any] struct {
	list *[]T
	what string
	max  int
}

func (b boundedList[T]) decodeStream(dec *json.Decoder) error {
	return decodeList(dec, b.what, b.max, b.list)
}

// decodeList decodes an array (or null) item by item into dst, failing once it holds more
// than max items.
func decodeList[T any](dec *json.Decoder, what string, max int, dst *[]T) error {
	if null, err := openDelim(dec, '['); err != nil || null {
		return err
	}
	for dec.More() {
		if len(*dst) >= max {
			return tooManyItems(what, max)
		}
		var item T
		if err := dec.Decode(&item); err != nil {
			return err
		}
		*dst = append(*dst, item)
	}
	_, err := dec.Token() // ']'
	return err
}

// openDelim reads the opening delimiter want, or a null (true).
func openDelim(dec *json.Decoder, want json.Delim) (null bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	if tok == nil {
		return true, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return false, fmt.Errorf("want %q, got %v", want, tok)
	}
	return false, nil
}

// skipValue reads one value of any shape and keeps nothing of it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// smallLinks is the size up to which a link dictionary is decoded in one json.Unmarshal (twice
// as fast as the token stream, which every restore session pays): so small a text cannot hold a
// map much larger than maxLinks allows (at most a few hundred tiny entries), and the bound is
// checked right after.
const smallLinks = 4 << 10

// UnmarshalJSON decodes a HAL link dictionary of at most maxLinks links.
func (l *Links) UnmarshalJSON(b []byte) error {
	if len(b) <= smallLinks {
		var m map[string]Link
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		if len(m) > maxLinks {
			return tooManyItems("a link dictionary", maxLinks)
		}
		*l = m
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	null, err := openDelim(dec, '{')
	if err != nil || null {
		*l = nil
		return err
	}
	out := Links{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if len(out) >= maxLinks {
			return tooManyItems("a link dictionary", maxLinks)
		}
		var link Link
		if err := dec.Decode(&link); err != nil {
			return err
		}
		out[tok.(string)] = link
	}
	*l = out
	return nil
}
