package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// itemKinds are the item types of the large pages, each made two ways: zero, and with every
// field set (what a null, a duplicate name or a missing member must leave alone).
var itemKinds = []struct {
	name       string
	zero, full func() any
}{
	{"RestoreSession", func() any { return new(RestoreSession) }, fullSession},
	{"RestoreSessionEvent", func() any { return new(RestoreSessionEvent) }, fullEvent},
}

func fullSession() any {
	end, etag := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), int64(42)
	return &RestoreSession{ID: "id0", Name: "name0", Organization: "org0", Type: "Vex",
		CreationTime: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), EndTime: &end, State: "Working",
		Result: "Success", InitiatedBy: "by0", Details: "details0", ScopeName: "scope0",
		ClientHost: "host0", Reason: "reason0", ETag: &etag, Links: Links{"self": {Href: "/s0"}}}
}

func fullEvent() any {
	end, size := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), int64(42)
	return &RestoreSessionEvent{ID: "id0", Type: "Save", Status: "Running",
		StartTime: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), EndTime: &end, Duration: "00:00:01",
		Title: "title0", Message: "message0", Order: 7, ItemName: "item0", ItemType: "Item",
		ItemSizeBytes: &size, Source: "src0", Target: "dst0", Links: Links{"self": {Href: "/e0"}}}
}

// decodeItemBoth decodes in (one JSON value) into want with encoding/json and into got as the
// client decodes an item (decodeValue, on a stream), which must also leave nothing but
// whitespace after the value (as encoding/json.Unmarshal requires).
func decodeItemBoth(in []byte, want, got any) (errV1, err error) {
	errV1 = json.Unmarshal(in, want)
	dec := newDecoder(bytes.NewReader(in))
	if err = decodeValue(dec, got); err == nil {
		if _, rest := dec.ReadToken(); rest != io.EOF {
			err = fmt.Errorf("after the value: %v", rest)
		}
	}
	return errV1, err
}

// itemCases are inputs for both item types: every field, names in other letter cases and
// spellings, duplicates, nulls, values of the wrong kind, numbers that do not fit, odd times,
// escapes and invalid UTF-8. Each is decoded into a zero item and into a full one.
var itemCases = []string{
	// Every field of both types, as VBO sends them.
	`{"id":"a","name":"n","organization":"o","type":"Vex","creationTime":"2026-11-26T03:44:22.5052438Z","endTime":"2026-11-26T03:45:22Z","state":"Stopped","result":"Warning","initiatedBy":"i","details":"d","scopeName":"s","clientHost":"h","reason":"r","eTag":123,"_links":{"self":{"href":"/x"}}}`,
	`{"id":"a","type":"Restore","status":"Warning","startTime":"2026-11-23T17:05:10.5Z","endTime":"2026-11-23T17:05:11.0446928Z","duration":"00:00:00.5446928","title":"t","message":"m","order":1,"itemName":"x.xlsx","itemType":"Item","itemSizeBytes":5368709120,"source":"s","target":"t","_links":{"self":{"href":"/y"}}}`,
	`{}`,
	`null`,
	// Names: case-insensitive as strings.EqualFold (the Kelvin sign folds to k, ſ to s), exact
	// first, escapes unescaped; underscores and dashes count; the empty name is no field.
	`{"ID":"a","NAME":"n","Organization":"o","TYPE":"t","CreationTime":"2026-11-26T03:44:22Z","ENDTIME":null,"State":"s","RESULT":"r","initiatedby":"i","DETAILS":"d","scopename":"s","CLIENTHOST":"h","Reason":"r","ETAG":1,"_LINKS":{"a":{"href":"b"}}}`,
	`{"Id":"a","STATUS":"s","StartTime":"2026-11-26T03:44:22Z","ORDER":2,"ItemSizeBytes":3,"itemname":"n","ITEMTYPE":"t","Source":"s","TARGET":"t","Duration":"d","TITLE":"t","Message":"m"}`,
	`{"ſtate":"Stopped","ſtatus":"Failed","ſource":"s","ſcopeName":"x","reaſon":"r"}`,
	`{"\u017ftate":"Stopped","clientHoſt":"h","itemſizeBytes":4}`,
	"{\"\u212aey\":1,\"organization\":\"o\"}",
	`{"i\u0064":"a","\u0069\u0044":"b","na\u006De":"n","\u005flinks":{}}`,
	`{"id":"a","ID":"b","Id":"c"}`,
	`{"ID":"b","id":"a"}`,
	`{"i_d":"a","item_name":"x","item-type":"y","end_time":"2026-11-26T03:44:22Z","e_tag":5,"scope_name":"s"}`,
	`{"":"a","links":{"b":{"href":"y"}},"İD":"x","ıd":"y","ıtemName":"z"}`,
	`{"idx":"a","xid":"b","i":"c","id ":"d"," id":"e"}`,
	// Unknown members, any value.
	`{"unknown":{"a":[1,2,{"b":null}],"c":"d"},"id":"a","more":[[],{}],"x":true,"y":-1.5e300}`,
	// Duplicates: the last wins; a null leaves the value before it (sets a pointer to nil).
	`{"id":"a","id":"b","state":"x","state":null,"eTag":5,"eTag":null,"endTime":"2026-11-26T03:44:22Z","endTime":null}`,
	`{"endTime":null,"endTime":"2026-11-26T03:44:22Z","eTag":null,"eTag":7,"itemSizeBytes":null,"itemSizeBytes":8}`,
	`{"order":3,"order":null,"order":4,"itemSizeBytes":7,"itemSizeBytes":9,"message":"a","message":""}`,
	`{"_links":{"a":{"href":"x"}},"_links":{"b":{"href":"y"}}}`,
	`{"_links":{"a":{"href":"x"}},"_links":null}`,
	`{"name":"` + strings.Repeat("n", 600) + `","name":"short","details":"` + strings.Repeat("d", 2000) + `"}`,
	// Nulls everywhere.
	`{"id":null,"name":null,"organization":null,"type":null,"creationTime":null,"endTime":null,"state":null,"result":null,"initiatedBy":null,"details":null,"scopeName":null,"clientHost":null,"reason":null,"eTag":null,"_links":null}`,
	`{"id":null,"type":null,"status":null,"startTime":null,"endTime":null,"duration":null,"title":null,"message":null,"order":null,"itemName":null,"itemType":null,"itemSizeBytes":null,"source":null,"target":null,"_links":null}`,
	// Values of the wrong kind.
	`{"id":1}`, `{"id":true}`, `{"id":{}}`, `{"id":["a"]}`, `{"type":5}`, `{"state":false}`,
	`{"status":{}}`, `{"message":[]}`,
	`{"eTag":"5"}`, `{"eTag":true}`, `{"eTag":{}}`, `{"eTag":[1]}`,
	`{"order":"1"}`, `{"order":true}`, `{"order":{}}`, `{"order":[]}`, `{"itemSizeBytes":"1"}`,
	`{"creationTime":1234}`, `{"creationTime":true}`, `{"creationTime":{}}`, `{"creationTime":[]}`,
	`{"startTime":{"a":"2026-11-26T03:44:22Z"}}`, `{"endTime":5}`, `{"endTime":false}`, `{"endTime":[]}`,
	`{"_links":"x"}`, `{"_links":[]}`, `{"_links":{"a":"b"}}`, `{"_links":5}`,
	// Numbers: an integer that fits, or an error.
	`{"eTag":0,"order":-0,"itemSizeBytes":-9223372036854775808}`,
	`{"eTag":9223372036854775807,"order":9223372036854775807,"itemSizeBytes":9223372036854775807}`,
	`{"eTag":9223372036854775808}`, `{"order":9223372036854775808}`, `{"itemSizeBytes":-9223372036854775809}`,
	`{"eTag":99999999999999999999999}`, `{"order":99999999999999999999}`,
	`{"eTag":1.0}`, `{"order":1.5}`, `{"itemSizeBytes":1e3}`, `{"order":1E0}`, `{"eTag":-0.0}`,
	`{"order":01}`, `{"eTag":-}`, `{"order":+1}`,
	// Times: as time.Time.UnmarshalJSON takes them.
	`{"creationTime":"2026-11-26T03:44:22.123456789123Z","startTime":"2026-11-26T03:44:22,5Z"}`,
	`{"creationTime":"2026-11-26T3:44:22Z","startTime":"2026-11-26T00:00:00+24:00"}`,
	`{"creationTime":"2026-11-26T03:44:22.5052438","startTime":"2026-11-26 03:44:22Z"}`,
	`{"creationTime":"2026-02-30T00:00:00Z"}`, `{"startTime":""}`, `{"endTime":""}`,
	`{"creationTime":"2026-11-26T03:44:22+10:00","endTime":"2026-11-26T03:44:23.5-05:30"}`,
	`{"startTime":"2026-11-26T03:44:22\u005a"}`, `{"endTime":"2026-11-26T03:44:22Z\u0000"}`,
	`{"creationTime":"9999-12-31T23:59:59.999999999Z","startTime":"0000-01-01T00:00:00Z"}`,
	`{"endTime":"10000-01-01T00:00:00Z"}`, `{"endTime":"2026-11-26T03:44:22-23:59"}`,
	// Strings: escapes, surrogates, invalid UTF-8.
	`{"id":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00","name":"\ud800","organization":"\udc00x","state":"\ud800\ud800"}`,
	"{\"id\":\"a\xffb\",\"message\":\"\xc3\",\"title\":\"\xed\xa0\x80\",\"source\":\"ok\"}",
	"{\"i\xffd\":\"a\",\"id\":\"\xf4\x90\x80\x80\"}",
	`{"id":""}`,
	// Not an object; broken syntax.
	`[]`, `"a"`, `1`, `true`, ``, `{`, `{"id"}`, `{"id":}`, `{"id":"a",}`, `{"id":"a"`,
	`{"id":"a"}}`, `{"id":"a"} {"id":"b"}`, `{"id":nul}`, `{"id":"a\x01"}`, `{id:"a"}`, `{"_links":{"a":{"href":"x"}}`,
}

// TestDecodeItemsMatchEncodingJSON: a RestoreSession and a RestoreSessionEvent decode as
// encoding/json decodes them (decodeOptions), field by field: the same value, and an error
// exactly where encoding/json has one, whether decoded into a zero or a full item.
func TestDecodeItemsMatchEncodingJSON(t *testing.T) {
	for _, kind := range itemKinds {
		for _, mk := range []func() any{kind.zero, kind.full} {
			for _, in := range itemCases {
				want, got := mk(), mk()
				errV1, err := decodeItemBoth([]byte(in), want, got)
				if escapedTimeDivergence(errV1, err) {
					continue // TestDecodeEscapedTimeDiverges
				}
				if (errV1 == nil) != (err == nil) || errV1 == nil && !reflect.DeepEqual(want, got) {
					t.Errorf("%s %.300q:\n encoding/json: %+v (err %v)\n decodeValue:   %+v (err %v)",
						kind.name, in, want, errV1, got, err)
				}
			}
		}
	}
}

// FuzzDecodeItemsMatchEncodingJSON: whatever an item holds, the client decodes a
// RestoreSession and a RestoreSessionEvent as encoding/json does (value and error-or-not), into
// a zero item and into a full one. Seeds: the items of testdata's pages and itemCases.
func FuzzDecodeItemsMatchEncodingJSON(f *testing.F) {
	for _, page := range []string{"restore_sessions_page51.json", "events_page.json"} {
		data, err := os.ReadFile("testdata/" + page)
		if err != nil {
			f.Fatal(err)
		}
		var p struct{ Results []json.RawMessage }
		if err := json.Unmarshal(data, &p); err != nil {
			f.Fatal(err)
		}
		for _, item := range p.Results[:min(len(p.Results), 8)] {
			f.Add([]byte(item))
		}
	}
	for _, in := range itemCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, kind := range itemKinds {
			for _, mk := range []func() any{kind.zero, kind.full} {
				want, got := mk(), mk()
				errV1, err := decodeItemBoth(in, want, got)
				if escapedTimeDivergence(errV1, err) {
					continue // TestDecodeEscapedTimeDiverges
				}
				if (errV1 == nil) != (err == nil) || errV1 == nil && !reflect.DeepEqual(want, got) {
					t.Fatalf("%s %q:\n encoding/json: %+v (err %v)\n decodeValue:   %+v (err %v)",
						kind.name, in, want, errV1, got, err)
				}
			}
		}
	})
}

// escapedTimeDivergence reports the one known difference from encoding/json: a time string
// holding escapes, which encoding/json hands to time.Time.UnmarshalJSON as read (a backslash
// is no RFC 3339, so it always refuses it) while the library (jsonv1.ParseTimeWithLooseRFC3339)
// parses it unescaped and may accept it.
func escapedTimeDivergence(errV1, err error) bool {
	var pe *time.ParseError
	return err == nil && errors.As(errV1, &pe) && strings.Contains(pe.Value, `\`)
}

// TestDecodeEscapedTimeDiverges documents that divergence (found by
// FuzzDecodeItemsMatchEncodingJSON): "2026-11-26T03:44:22\u005a" is a time to the client and
// an error to encoding/json. It is kept because closing it (a json.WithUnmarshalers time
// decoder calling time.Time.UnmarshalJSON on the value as read) cost some 10-15% of a page's
// decoding CPU, for escapes VBO (.NET) never writes inside a timestamp, and it accepts more,
// never less. Should the library come to match encoding/json, this test fails: drop it then,
// with escapedTimeDivergence.
func TestDecodeEscapedTimeDiverges(t *testing.T) {
	for _, in := range []string{
		`{"creationTime":"2026-11-26T03:44:22\u005a"}`,
		`{"endTime":"\u0032026-11-26T03:44:22Z"}`,
	} {
		var want, got RestoreSession
		errV1, err := decodeItemBoth([]byte(in), &want, &got)
		if !escapedTimeDivergence(errV1, err) {
			t.Errorf("%s: encoding/json err %v, decodeValue err %v: the divergence is gone", in, errV1, err)
		}
		if got.CreationTime.IsZero() && got.EndTime == nil {
			t.Errorf("%s: decoded no time: %+v", in, got)
		}
	}
}
