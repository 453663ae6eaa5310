// Package termsafe makes strings that come from data safe to print on a terminal. Anyone who can
// write a log line, a span name or a job payload chooses those bytes, so every renderer (TUI,
// plain output, errors) passes them through String or Lines once, just before output.
package termsafe

import (
	"strings"
	"unicode/utf8"
)

// tabWidth is what a tab becomes: tabs would let data move the cursor to columns of its choosing.
const tabWidth = "    "

// String returns s with every control character made visible: C0 controls (including newline and
// carriage return), DEL and C1 controls become `\xNN` (or `\u0085`-style for C1 runes); a tab becomes
// spaces; bytes that are not valid UTF-8 become `\xNN`, since a terminal in 8-bit mode would read a
// lone 0x9b as CSI. Printable text, including non-ASCII, is kept as it is.
func String(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\t':
				b.WriteString(tabWidth)
			case c < 0x20 || c == 0x7f:
				writeHex(&b, c)
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			writeHex(&b, c)
		case r >= 0x80 && r <= 0x9f:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xf])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Lines splits s at newlines and makes each line safe, for renderers that show multi-line text
// (a stack trace) as several rows. A carriage return stays visible: "\r" is how a line hides what
// precedes it.
func Lines(s string) []string {
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = String(p)
	}
	return parts
}

// Strings makes each element of ss safe, in place, and returns ss.
func Strings(ss []string) []string {
	for i, s := range ss {
		ss[i] = String(s)
	}
	return ss
}

const hexDigits = "0123456789abcdef"

func writeHex(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&0xf])
}

// safe reports whether s needs no change: the common case, checked without allocating.
func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
