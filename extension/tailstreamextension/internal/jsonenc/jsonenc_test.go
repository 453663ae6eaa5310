package jsonenc

import (
	"encoding/json"
	"testing"
)

var corpus = []string{
	"", "plain", `quote " and \ backslash`, "\b\f\n\r\t\x00\x1f\x7f", "<script>&amp;</script>",
	"line\u2028sep\u2029para", "bad \xff utf-8 \xc3", "café ☃ 𝄞", "\xed\xa0\x80 surrogate",
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range corpus {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, encoding/json says %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range corpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got[1:]) != string(want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json says %s", s, got[1:], want)
		}
	})
}
