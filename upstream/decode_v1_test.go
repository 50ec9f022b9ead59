package upstream

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeMatchesEncodingJSON: VBO answers decode as encoding/json decoded them (what the
// client used before go-json-experiment/json): the same values, and an error exactly where
// encoding/json had one. In particular time.Time keeps encoding/json's loose RFC 3339 (Go's
// time.Time.UnmarshalJSON does not enforce the strict grammar), and names match as
// strings.EqualFold does, underscores and dashes included (access_token is not accessToken).
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		in string
		mk func() any
	}{
		// Timestamps as VBO (.NET) writes them, and what encoding/json also accepted.
		{`{"id":"a","creationTime":"2026-11-26T03:44:22.5052438Z"}`, session},
		{`{"id":"a","creationTime":"2026-11-26T03:44:22.5052438+00:00"}`, session},
		{`{"id":"a","creationTime":"2026-11-26T03:44:22+10:00","endTime":"2026-11-26T03:44:23.5-05:30"}`, session},
		{`{"id":"a","creationTime":"2026-11-26T03:44:22.123456789123Z"}`, session},
		{`{"id":"a","creationTime":"2026-11-26T03:44:22,5Z"}`, session},
		{`{"id":"a","creationTime":"2026-11-26T3:44:22Z"}`, session},
		{`{"id":"a","creationTime":"2026-11-26T00:00:00+24:00"}`, session},
		{`{"id":"a","creationTime":"2026-11-26T03:44:22.5052438"}`, session},
		{`{"id":"a","creationTime":"2026-11-26 03:44:22Z"}`, session},
		{`{"id":"a","creationTime":"2026-02-30T00:00:00Z"}`, session},
		{`{"id":"a","creationTime":""}`, session},
		{`{"id":"a","creationTime":1234}`, session},
		{`{"id":"a","creationTime":null,"endTime":null}`, session},
		{`{"startTime":"2026-11-26T03:44:22.5052438Z","endTime":"2026-11-26T03:44:22,5Z","order":3}`, event},
		{`{"id":"o","firstBackuptime":"2026-11-26T3:44:22Z","lastBackuptime":null}`, organization},
		// Names: case-insensitive, but underscores and dashes count.
		{`{"Id":"a","STATE":"Stopped"}`, session},
		{`{"id":"a","ID":"b"}`, session},
		{`{"i_d":"a"}`, session},
		{`{"clientHost":"g","client_host":"h","client-host":"i"}`, session},
		{`{"_links":{"a":{"href":"x"}},"links":{"b":{"href":"y"}}}`, session},
		{`{"item_name":"x","ItemName":"y"}`, event},
		{`{"id":"o","is_backedup":true}`, organization},
		{`{"accessToken":"a"}`, token},
		{`{"access_token":"a","accessToken":"b"}`, token},
		{`{"access-token":"a"}`, token},
		{`{"ACCESS_TOKEN":"a","expires_in":3600,".issued":"Mon, 01 Jan 2026 00:00:00 GMT"}`, token},
		// Values.
		{`{"id":"a\ud800b"}`, session},
		{"{\"id\":\"a\xffb\"}", session},
		{`{"id":null,"eTag":null}`, session},
		{`{"id":"a","id":null,"eTag":5,"eTag":null,"endTime":"2026-11-26T03:44:22Z","endTime":null}`, session},
		{`{"order":3,"order":null,"itemSizeBytes":7,"itemSizeBytes":9}`, event},
		{`{"id":"o","isBackedup":true,"isBackedup":null,"name":"n","name":null}`, organization},
		{`{"id":"a","eTag":1.0}`, session},
		{`{"id":"a","eTag":"5"}`, session},
		{`{"order":99999999999999999999}`, event},
		{`{"id":"o","isExchangeOnline":"true"}`, organization},
		{`{"id":"a"} trailing`, session},
		{`[]`, session},
		{``, session},
	} {
		a, b := tc.mk(), tc.mk()
		errV1 := json.NewDecoder(strings.NewReader(tc.in)).Decode(a)
		err := decodeValue(newDecoder(strings.NewReader(tc.in)), b)
		if (errV1 == nil) != (err == nil) || errV1 == nil && !reflect.DeepEqual(a, b) {
			t.Errorf("%T %s:\n encoding/json: %+v (err %v)\n decodeValue:   %+v (err %v)", a, tc.in,
				reflect.ValueOf(a).Elem(), errV1, reflect.ValueOf(b).Elem(), err)
		}
	}
}

func session() any      { return new(RestoreSession) }
func event() any        { return new(RestoreSessionEvent) }
func organization() any { return new(Organization) }
func token() any        { return new(Token) }

// TestDecodePageMatchesEncodingJSON: pages decode through the bounded page decoder (names
// matched by hand, results item by item into a slice sized from the limit asked) as
// encoding/json decodes a Page. The links of the items are the stream decoder's either way
// (encoding/json calls Links.UnmarshalJSON): TestLinksMatchEncodingJSON compares those.
func TestDecodePageMatchesEncodingJSON(t *testing.T) {
	page51, err := os.ReadFile("testdata/restore_sessions_page51.json")
	if err != nil {
		t.Fatal(err)
	}
	events, err := os.ReadFile("testdata/events_page.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in    string
		limit int
	}{
		{string(page51), 51},
		{string(page51), 1000},
		{string(page51), 0},
		{`{"offset":5,"limit":2,"setId":"s","totalCount":7,"results":[{"id":"a"},{"id":"b","state":"Stopped"}],"_links":{"next":{"href":"/n"}}}`, 2},
		{`{"OFFSET":5,"Limit":2,"SETID":"s","TotalCount":null,"Results":[{"id":"a"}],"_LINKS":null}`, 2},
		{`{"ſetId":"s","totalcount":3,"_links":{}}`, 2},
		{`{"set_id":"s","total-count":3,"result":[{"id":"a"}]}`, 2},
		{`{"offset":1,"offset":2,"setId":"a","setId":null}`, 2},
		{`{"results":null}`, 2},
		// A duplicate results replaces the list before it (encoding/json resets a slice), a
		// null one empties it.
		{`{"results":[{"id":"a"}],"results":[{"id":"b"}]}`, 2},
		{`{"results":[{"id":"a"},{"id":"c"}],"Results":[{"id":"b"}]}`, 2},
		{`{"results":[{"id":"a"}],"results":[]}`, 2},
		{`{"results":[{"id":"a"}],"results":null}`, 2},
		{`{"results":[{"id":"a"},{"id":"b"}],"results":[{"id":"c"},{"id":"d"}]}`, 2},
		{`{"results":[]}`, 2},
		{`{"results":[null,{"id":"b"}]}`, 2},
		{`{"results":[{"id":"a","creationTime":"yesterday"}]}`, 2},
		{`{"results":{"id":"a"}}`, 2},
		{`{"offset":"1"}`, 2},
		{`null`, 2},
		{`[]`, 2},
		// Input that ends inside the page.
		{`{"offset":1,`, 2},
		{`{"offset":`, 2},
		{`{"results":[{"id":"a"},`, 2},
		{`{"results":[{"id":"a"}]`, 2},
	} {
		var want, got Page[RestoreSession]
		errV1 := json.NewDecoder(strings.NewReader(tc.in)).Decode(&want)
		err := pageOf(&got, tc.limit).decodeStream(newDecoder(strings.NewReader(tc.in)))
		if (errV1 == nil) != (err == nil) || errV1 == nil && !reflect.DeepEqual(want, got) {
			t.Errorf("%.200s (limit %d):\n encoding/json: %+v (err %v)\n decodeStream:  %+v (err %v)", tc.in, tc.limit, want, errV1, got, err)
		}
	}
	var want, got Page[RestoreSessionEvent]
	errV1 := json.Unmarshal(events, &want)
	err = pageOf(&got, 30).decodeStream(newDecoder(strings.NewReader(string(events))))
	if errV1 != nil || err != nil || len(got.Results) != 2 || !reflect.DeepEqual(want, got) {
		t.Errorf("events page:\n encoding/json: %+v (err %v)\n decodeStream:  %+v (err %v)", want, errV1, got, err)
	}
}
