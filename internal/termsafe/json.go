package termsafe

import (
	"unicode/utf8"
)

// JSON makes JSON text safe to print on a terminal while keeping it the same JSON: encoding/json
// escapes C0 controls inside strings but passes DEL, C1 controls (a raw U+009B is CSI to many
// terminals) and, from a raw message, invalid UTF-8 through. Inside strings those become \u
// escapes (invalid bytes become \ufffd, as a JSON decoder reads them anyway); outside strings a
// tab or carriage return becomes a space. Newlines between tokens (indented output) are kept.
// Input that is not JSON comes out terminal-safe but not necessarily as JSON.
func JSON(b []byte) []byte {
	if jsonSafe(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	inString, escaped := false, false
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n' && !inString:
				out = append(out, c)
			case c == '\t' || c == '\r':
				if inString {
					out = appendU(out, rune(c))
				} else {
					out = append(out, ' ')
				}
			case c < 0x20 || c == 0x7f:
				out = appendU(out, rune(c))
			default:
				out = append(out, c)
				switch {
				case escaped:
					escaped = false
				case inString && c == '\\':
					escaped = true
				case c == '"':
					inString = !inString
				}
			}
			i++
			continue
		}
		escaped = false
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r >= 0x80 && r <= 0x9f:
			out = appendU(out, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

func appendU(out []byte, r rune) []byte {
	return append(out, '\\', 'u', '0', '0', hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// jsonSafe reports whether b needs no change: printable ASCII and newlines only.
func jsonSafe(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\n') || c >= 0x7f {
			return false
		}
	}
	return true
}
