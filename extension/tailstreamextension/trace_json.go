package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"unicode/utf8"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// tagList is span attributes written as a JSON object in attribute order. encoding/json
// would need a map per span and sort its keys on every answer, which was most of the time
// of a 1,000-span summary.
type tagList []tracecache.KV

func (l tagList) MarshalJSON() ([]byte, error) {
	n := 2
	for _, kv := range l {
		n += len(kv.Key) + len(kv.Value) + 6
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, kv := range l {
		if dupBefore(l, i) {
			continue // a merged span (Zipkin's shared halves) may repeat a key: first wins
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, kv.Key)
		b = append(b, ':')
		b = appendJSONString(b, kv.Value)
	}
	return append(b, '}'), nil
}

func dupBefore(l tagList, i int) bool {
	for j := 0; j < i; j++ {
		if l[j].Key == l[i].Key {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as JSON: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD (as encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
