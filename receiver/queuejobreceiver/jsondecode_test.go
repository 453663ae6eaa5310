package queuejobreceiver

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

var jsonCases = []string{
	upstreamJob,
	`{}`, ` { } `, `{"a":[]}`, `{"a":[1,2,{"b":null}],"c":true,"d":false}`,
	`{"n":-0.5e+10,"m":0,"o":1E3,"p":-12}`,
	`{"s":"\"\\\/\b\f\n\r\t\u00e9\u4e2d"}`,
	`{"pair":"\ud83d\ude00","lone":"\ud800x","low":"\udc00","two":"\ud800\u0041"}`,
	`{"dup":1,"dup":2}`,
	`{"opts":{"tm":"{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}"}}`,
	// invalid
	`{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a":tru`, `{"a":"x`, `{"a":"\u12`, `{"a":-`, `{"a":1.`, `{"a":1e`,
	`{"a":01}`, `{"a":1.}`, `{"a":+1}`, `{"a":.5}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"` + "\t" + `"}`,
	`{a:1}`, `{"a" 1}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":1}x`, `{"a":nul}`, `{"a":True}`, `[]`, `{"a":"\uZZZZ"}`,
	`{"a":1e999}`, `{"a":[` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `]}`,
}

func TestDecodeObjectMatchesEncodingJSON(t *testing.T) {
	for _, c := range jsonCases {
		compareWithStdlib(t, c)
	}
}

func compareWithStdlib(t *testing.T, s string) {
	t.Helper()
	got, err := decodeObject(s)
	var want map[string]any
	stdErr := json.Unmarshal([]byte(s), &want)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(stdErr, &typeErr) || stdErr != nil && strings.Contains(stdErr.Error(), "exceeded max depth"):
		// encoding/json rejects 1e999 and deep nesting with other errors; we must reject too.
		require.Error(t, err, "%q", s)
	case stdErr != nil:
		require.Error(t, err, "stdlib rejects %q (%v) but decodeObject accepted it", s, stdErr)
		if strings.Contains(stdErr.Error(), "unexpected end") {
			require.ErrorIs(t, err, errJSONTruncated, "%q", s)
		}
	default:
		require.NoError(t, err, "%q", s)
		require.True(t, reflect.DeepEqual(want, got), "%q:\nstd %#v\ngot %#v", s, want, got)
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, c := range jsonCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) == 0 || strings.TrimSpace(s) == "" || strings.TrimSpace(s)[0] != '{' {
			return // parseJob rejects these before decoding
		}
		compareWithStdlib(t, strings.TrimSpace(s))
	})
}

func BenchmarkDecodeObjectVsStdlib(b *testing.B) {
	b.Run("decodeObject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeObject(upstreamJob); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		raw := []byte(upstreamJob)
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
