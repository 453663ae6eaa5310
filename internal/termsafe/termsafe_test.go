package termsafe

import (
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "job completed id=42", "job completed id=42"},
		{"unicode kept", "naïve ✓ 日本", "naïve ✓ 日本"},
		{"osc52 clipboard", "\x1b]52;c;aGFja2Vk\x07", `\x1b]52;c;aGFja2Vk\x07`},
		{"title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"cursor report", "\x1b[6n", `\x1b[6n`},
		{"carriage return", "real-error\rfake-ok", `real-error\x0dfake-ok`},
		{"backspace and del", "a\bb\x7f", `a\x08b\x7f`},
		{"newline", "a\nb", `a\x0ab`},
		{"tab", "a\tb", "a    b"},
		{"c1 csi rune", "x\u009b2J", `x\u009b2J`},
		{"c1 nel rune", "x\u0085", `x\u0085`},
		{"lone 0x9b byte", "x\x9b2J", `x\x9b2J`},
		{"truncated utf8", "ok\xe6\x97", `ok\xe6\x97`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLines(t *testing.T) {
	got := Lines("panic: boom\n\tat main.go:3\x1b[2J")
	want := []string{"panic: boom", "    at main.go:3\\x1b[2J"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
}

// assertTerminalSafe fails when out holds a control byte, a C1 control or invalid UTF-8.
func assertTerminalSafe(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("String(%q) = %q is not valid UTF-8", in, out)
	}
	for _, r := range out {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			t.Fatalf("String(%q) = %q keeps control %U", in, out, r)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b]52;c;x\x07", "\u009b", "\x9b", "a\tb\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		assertTerminalSafe(t, s, out)
		if safe(s) && out != s {
			t.Fatalf("safe input changed: %q -> %q", s, out)
		}
	})
}
