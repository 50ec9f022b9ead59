package main

import (
	"strings"
	"testing"
)

func TestDecodeAnswer(t *testing.T) {
	type data struct {
		A struct{ B int } `json:"a"`
	}
	for _, tc := range []struct {
		name, in string
		withOut  bool
		errs     int
		b        int
		bad      bool
	}{
		{name: "data, dropped", in: `{"data":{"a":{"b":2}}}`},
		{name: "data, decoded", in: `{"data":{"a":{"b":2}},"extensions":{"x":[1]}}`, withOut: true, b: 2},
		{name: "errors first", in: `{"errors":[{"message":"m","extensions":{"code":"C"}}],"data":null}`, errs: 1},
		{name: "errors last", in: `{"data":{"a":{"b":1}},"errors":[{"message":"m"},{"message":"n"}]}`, errs: 2},
		{name: "broken data", in: `{"data":{"a":}`, bad: true},
		{name: "not an object", in: `[1]`, bad: true},
		{name: "truncated", in: `{"data":{"a":{"b":2}}`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs []gqlError
			var d data
			var out any
			if tc.withOut {
				out = &d
			}
			err := decodeAnswer(strings.NewReader(tc.in), &errs, out)
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want failure %v", err, tc.bad)
			}
			if !tc.bad && (len(errs) != tc.errs || d.A.B != tc.b) {
				t.Fatalf("errors %v, b %d; want %d errors, b %d", errs, d.A.B, tc.errs, tc.b)
			}
		})
	}
}
