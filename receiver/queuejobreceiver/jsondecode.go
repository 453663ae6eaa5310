package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeObject decodes one JSON object into the same values encoding/json produces for
// map[string]any (string, float64, bool, nil, []any, map[string]any), several times faster:
// no reflection, and strings without escapes are substrings of s instead of copies. Callers
// must strings.Clone what they keep beyond the payload's lifetime.
//
// It is strict RFC 8259 (the parser's fuzz target compares it with encoding/json).
func decodeObject(s string) (map[string]any, error) {
	d := jsonDecoder{s: s}
	d.ws()
	if d.i >= len(d.s) {
		return nil, errJSONTruncated
	}
	if d.s[d.i] != '{' {
		return nil, errJSONSyntax
	}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.s) {
		return nil, errJSONSyntax
	}
	return v.(map[string]any), nil
}

var (
	errJSONTruncated = errors.New("unexpected end of JSON input")
	errJSONSyntax    = errors.New("invalid JSON")
	errJSONDepth     = errors.New("JSON nested too deeply")
	errJSONNumber    = errors.New("JSON number out of range")
)

const maxJSONDepth = 10000 // encoding/json's limit

type jsonDecoder struct {
	s string
	i int
}

func (d *jsonDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errJSONDepth
	}
	d.ws()
	if d.i >= len(d.s) {
		return nil, errJSONTruncated
	}
	switch c := d.s[d.i]; {
	case c == '{':
		d.i++
		m := make(map[string]any, 8)
		d.ws()
		if d.i < len(d.s) && d.s[d.i] == '}' {
			d.i++
			return m, nil
		}
		for {
			d.ws()
			if d.i >= len(d.s) {
				return nil, errJSONTruncated
			}
			if d.s[d.i] != '"' {
				return nil, errJSONSyntax
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			d.ws()
			if d.i >= len(d.s) {
				return nil, errJSONTruncated
			}
			if d.s[d.i] != ':' {
				return nil, errJSONSyntax
			}
			d.i++
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			if done, err := d.next('}'); err != nil || done {
				return m, err
			}
		}
	case c == '[':
		d.i++
		a := []any{}
		d.ws()
		if d.i < len(d.s) && d.s[d.i] == ']' {
			d.i++
			return a, nil
		}
		for {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			if done, err := d.next(']'); err != nil || done {
				return a, err
			}
		}
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.lit("true")
	case c == 'f':
		return false, d.lit("false")
	case c == 'n':
		return nil, d.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.num()
	}
	return nil, errJSONSyntax
}

// next consumes ',' (more to come) or the closing byte (done).
func (d *jsonDecoder) next(closing byte) (bool, error) {
	d.ws()
	if d.i >= len(d.s) {
		return false, errJSONTruncated
	}
	switch d.s[d.i] {
	case ',':
		d.i++
		return false, nil
	case closing:
		d.i++
		return true, nil
	}
	return false, errJSONSyntax
}

func (d *jsonDecoder) lit(word string) error {
	end := d.i + len(word)
	if end > len(d.s) {
		if strings.HasPrefix(word, d.s[d.i:]) {
			return errJSONTruncated
		}
		return errJSONSyntax
	}
	if d.s[d.i:end] != word {
		return errJSONSyntax
	}
	d.i = end
	return nil
}

func (d *jsonDecoder) num() (any, error) {
	start := d.i
	if d.s[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i >= len(d.s) {
		return nil, errJSONTruncated
	}
	if d.s[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return nil, errJSONSyntax
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if digits() == 0 {
			if d.i >= len(d.s) {
				return nil, errJSONTruncated
			}
			return nil, errJSONSyntax
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			if d.i >= len(d.s) {
				return nil, errJSONTruncated
			}
			return nil, errJSONSyntax
		}
	}
	f, err := strconv.ParseFloat(d.s[start:d.i], 64)
	if err != nil {
		return nil, errJSONNumber
	}
	return f, nil
}

// str decodes a string starting at its opening quote.
func (d *jsonDecoder) str() (string, error) {
	d.i++
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			s := d.s[start:d.i]
			d.i++
			return s, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return "", errJSONSyntax
		}
		d.i++
	}
	return "", errJSONTruncated
}

func (d *jsonDecoder) strEscaped(start int) (string, error) {
	b := make([]byte, 0, d.i-start+16)
	b = append(b, d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < 0x20:
			return "", errJSONSyntax
		case c != '\\':
			b = append(b, c)
			d.i++
			continue
		}
		d.i++
		if d.i >= len(d.s) {
			return "", errJSONTruncated
		}
		e := d.s[d.i]
		d.i++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, err := d.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				// A valid pair combines; anything else becomes U+FFFD, as encoding/json does.
				r2 := rune(-1)
				if d.i+1 < len(d.s) && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					var err error
					if r2, err = d.hex4(); err != nil {
						return "", err
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r, r2 = dec, -1
					} else {
						d.i = save
						r2 = -1
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", errJSONSyntax
		}
	}
	return "", errJSONTruncated
}

func (d *jsonDecoder) hex4() (rune, error) {
	if d.i+4 > len(d.s) {
		for _, c := range []byte(d.s[d.i:]) {
			if !isHex(c) {
				return 0, errJSONSyntax
			}
		}
		return 0, errJSONTruncated
	}
	var r rune
	for _, c := range []byte(d.s[d.i : d.i+4]) {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, errJSONSyntax
		}
		r = r<<4 | rune(v)
	}
	d.i += 4
	return r, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
