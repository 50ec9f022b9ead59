package upstream

import (
	"encoding/json"
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
