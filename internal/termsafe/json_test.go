package termsafe

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestJSON(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", `{"a":"b"}`, `{"a":"b"}`},
		{"indented", "{\n  \"a\": 1\n}", "{\n  \"a\": 1\n}"},
		{"c1 csi rune", "{\"m\":\"x\u009b2J\"}", `{"m":"x\u009b2J"}`},
		{"del", "{\"m\":\"a\x7fb\"}", `{"m":"a\u007fb"}`},
		{"invalid utf8", "{\"m\":\"a\x9bb\"}", `{"m":"a\ufffdb"}`},
		{"escaped quote keeps string state", `{"m":"a\"` + "\u0085" + `"}`, `{"m":"a\"\u0085"}`},
		{"escaped backslash", `{"m":"a\\","n":"` + "\u009b" + `"}`, `{"m":"a\\","n":"\u009b"}`},
		{"tab between tokens", "{\t\"a\":1}", `{ "a":1}`},
		{"unicode kept", `{"m":"日本 ✓"}`, `{"m":"日本 ✓"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(JSON([]byte(tc.in))); got != tc.want {
				t.Errorf("JSON(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzJSON: whatever the input, the output holds no control byte but newlines, no C1 control
// and only valid UTF-8; and valid JSON stays valid JSON meaning the same.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, "{\"m\":\"\u009b\"}", "[\"\x7f\",\"\\\"\"]", "\"\xff\"", "{\n \"a\": [1, 2]\n}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := JSON(in)
		if !utf8.Valid(out) {
			t.Fatalf("JSON(%q) = %q is not valid UTF-8", in, out)
		}
		for _, r := range string(out) {
			if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
				t.Fatalf("JSON(%q) = %q keeps control %U", in, out, r)
			}
		}
		if !json.Valid(in) {
			return
		}
		var a, b any
		if err := json.Unmarshal(in, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("JSON(%q) = %q is no longer JSON: %v", in, out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("JSON(%q) = %q changed the value: %#v vs %#v", in, out, a, b)
		}
	})
}
