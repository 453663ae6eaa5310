package scan

import (
	"encoding/base64"
	"net/netip"
	"strings"
)

// Luhn reports whether the decimal digits in s (separators ignored) pass the Luhn checksum.
func Luhn(s string) bool {
	sum, n, double := 0, 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
		n++
	}
	return n > 1 && sum%10 == 0
}

// digitsOf copies the digits of s into buf (up to its capacity) and returns the count.
func digitsOf(s string, buf []byte) []byte {
	buf = buf[:0]
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			if len(buf) == cap(buf) {
				return buf[:0]
			}
			buf = append(buf, c)
		}
	}
	return buf
}

func prefixNum(d []byte, n int) int {
	v := 0
	for i := 0; i < n && i < len(d); i++ {
		v = v*10 + int(d[i]-'0')
	}
	return v
}

// ValidIIN reports whether a card number's digits start with an issuer range that issues
// cards of that length (the cardBrands table).
func ValidIIN(d []byte) bool { return CardBrand(d) != "" }

// ValidCard reports whether s (digits with optional separators) is a plausible payment card:
// 12–19 digits, a known IIN range for that length and a valid Luhn checksum.
func ValidCard(s string) bool {
	var buf [maxCardDigits]byte
	d := digitsOf(s, buf[:0])
	return len(d) >= minCardDigits && ValidIIN(d) && Luhn(string(d))
}

// ValidSSN applies the SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000.
// s must be nine digits, optionally as ddd-dd-dddd or ddd dd dddd.
func ValidSSN(s string) bool {
	var buf [9]byte
	d := digitsOf(s, buf[:0])
	if len(d) != 9 {
		return false
	}
	area, group, serial := prefixNum(d, 3), prefixNum(d[3:], 2), prefixNum(d[5:], 4)
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

// ibanLengths holds the IBAN length per country (SWIFT registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
	"JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
	"MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
	"NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
	"SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// IBANLength returns the IBAN length for a two-letter country code, or 0.
func IBANLength(cc string) int { return ibanLengths[cc] }

// ValidIBAN checks country length and the ISO 7064 mod-97 checksum. Spaces are ignored;
// letters may be in either case ("de89…" is as much an IBAN as "DE89…").
func ValidIBAN(s string) bool {
	var buf [34]byte
	b := buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
			fallthrough
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z':
			if len(b) == cap(b) {
				return false
			}
			b = append(b, c)
		default:
			return false
		}
	}
	if len(b) < 15 || !isUpper(b[0]) || !isUpper(b[1]) || !isDigit(b[2]) || !isDigit(b[3]) {
		return false
	}
	if ibanLengths[string(b[:2])] != len(b) {
		return false
	}
	rem := 0
	for i := 0; i < len(b); i++ {
		c := b[(i+4)%len(b)]
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A'+10)) % 97
		}
	}
	return rem == 1
}

// ValidIPv4 checks dotted-quad form: four decimal octets 0–255 without leading zeros.
func ValidIPv4(s string) bool {
	parts, val, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || val > 255 || (digits > 1 && s[i-digits] == '0') {
				return false
			}
			parts++
			val, digits = 0, 0
			continue
		}
		c := s[i]
		if !isDigit(c) || digits == 3 {
			return false
		}
		val = val*10 + int(c-'0')
		digits++
	}
	return parts == 4
}

// ValidIPv6 accepts textual IPv6 addresses (not IPv4, not the unspecified address ::).
func ValidIPv6(s string) bool {
	if strings.IndexByte(s, ':') < 0 {
		return false
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && !a.IsUnspecified() && a.Zone() == ""
}

// validBasic reports whether tok is base64 of "user:password", which is what separates a
// Basic credential from the English word "basic" followed by another word.
func validBasic(tok string) bool {
	if len(tok)%4 != 0 || len(tok) > 1024 {
		return false
	}
	var buf [768]byte
	n, err := base64.StdEncoding.Decode(buf[:], []byte(tok))
	if err != nil || n < 3 {
		return false
	}
	for _, c := range buf[:n] {
		if c == ':' {
			return true
		}
	}
	return false
}

// Validators usable by custom rules, by config name.
var validators = map[string]func(string) bool{
	"luhn":        Luhn,
	"credit_card": ValidCard,
	"iban":        ValidIBAN,
	"ssn":         ValidSSN,
	"ipv4":        ValidIPv4,
	"ipv6":        ValidIPv6,
}

// Validator returns the named validator for custom rules.
func Validator(name string) (func(string) bool, bool) {
	v, ok := validators[name]
	return v, ok
}

// ValidatorNames lists the names accepted by Validator.
func ValidatorNames() []string {
	return []string{"credit_card", "iban", "ipv4", "ipv6", "luhn", "ssn"}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
func isIdent(c byte) bool { return isAlnum(c) || c == '_' }
func isHex(c byte) bool   { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
