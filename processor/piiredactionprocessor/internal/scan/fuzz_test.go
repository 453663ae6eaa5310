package scan

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzScan checks the scanner's invariants on arbitrary input: no panic, matches inside the
// value, sorted, non-overlapping, non-empty, and validated kinds really validate.
func FuzzScan(f *testing.F) {
	for _, l := range []string{
		"john@example.com 4111 1111 1111 1111 +1 (555) 123-4567 123-45-6789",
		"DE89 3704 0044 0532 0130 00 10.0.0.1 2001:db8::1 eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
		"https://u:p@h/?token=x Bearer abc123def -----BEGIN PRIVATE KEY-----\nA",
		"ghp_16C7e42F292c6912E7710c838347Ae178B4a AKIAIOSFODNN7EXAMPLE xoxb-1234567890-x",
		"(((((( ++++ ---- :::: @@@@ ....", "",
	} {
		f.Add(l)
	}
	r, _ := NewRule(`EMP-[0-9]{3}`, "luhn")
	s := New(Options{Rules: []Rule{r}})
	f.Fuzz(func(t *testing.T, v string) {
		ms := s.Scan(v, nil)
		prev := 0
		for _, m := range ms {
			if m.Start < prev || m.End <= m.Start || m.End > len(v) {
				t.Fatalf("bad match %+v (prev end %d) in %q", m, prev, v)
			}
			prev = m.End
			txt := v[m.Start:m.End]
			switch Kind(m.Det) {
			case CreditCard:
				if !ValidCard(txt) {
					t.Fatalf("card %q does not validate", txt)
				}
			case IBAN:
				if !ValidIBAN(txt) {
					t.Fatalf("iban %q does not validate", txt)
				}
			case SSN:
				if !ValidSSN(txt) {
					t.Fatalf("ssn %q does not validate", txt)
				}
			case IPv4:
				if a, err := netip.ParseAddr(txt); err != nil || !a.Is4() || !ValidIPv4(txt) {
					t.Fatalf("ipv4 %q does not parse", txt)
				}
			case IPv6:
				if !ValidIPv6(txt) {
					t.Fatalf("ipv6 %q does not validate", txt)
				}
			case Phone:
				checkPhone(t, txt)
			case Email:
				if strings.Count(txt, "@") != 1 {
					t.Fatalf("email %q", txt)
				}
			}
		}
	})
}

func FuzzLuhn(f *testing.F) {
	f.Add("79927398713")
	f.Add("4111-1111-1111-1111")
	f.Fuzz(func(t *testing.T, s string) {
		// Luhn of the digits must not depend on separators.
		var digits strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				digits.WriteByte(s[i])
			}
		}
		if Luhn(s) != Luhn(digits.String()) {
			t.Fatalf("separator-dependent Luhn for %q", s)
		}
		_ = ValidCard(s)
	})
}

func FuzzIBAN(f *testing.F) {
	f.Add("DE89370400440532013000")
	f.Add("GB82 WEST 1234 5698 7654 32")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidIBAN(s) {
			c := strings.ReplaceAll(s, " ", "")
			if IBANLength(c[:2]) != len(c) {
				t.Fatalf("valid IBAN %q has wrong length", s)
			}
		}
	})
}

func FuzzSSN(f *testing.F) {
	f.Add("123-45-6789")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidSSN(s) && (strings.HasPrefix(s, "000") || strings.HasPrefix(s, "666") || strings.HasPrefix(s, "9")) {
			t.Fatalf("invalid area accepted: %q", s)
		}
	})
}

func FuzzIPv4(f *testing.F) {
	f.Add("10.0.0.1")
	f.Add("256.1.1.1")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidIPv4(s) {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is4() {
				t.Fatalf("ValidIPv4 accepted %q, netip says %v", s, err)
			}
		}
	})
}

func FuzzIPv6(f *testing.F) {
	f.Add("2001:db8::1")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidIPv6(s) && !strings.Contains(s, ":") {
			t.Fatalf("ipv6 without colon %q", s)
		}
	})
}

func FuzzBasic(f *testing.F) {
	f.Add("dXNlcjpwYXNz")
	f.Fuzz(func(t *testing.T, s string) { _ = validBasic(s) })
}

// checkPhone asserts what every phone match is: digits and separators, 8–17 digits (15 plus
// an 00 prefix), optionally followed by an extension of up to 6 digits.
func checkPhone(t *testing.T, txt string) {
	t.Helper()
	num := txt
	if x := strings.LastIndexAny(strings.ToLower(txt), "x#t"); x >= 0 {
		ext := strings.TrimLeft(strings.ToLower(txt[x+1:]), "ension.: ")
		if ext == "" || len(ext) > maxExtensionDigits || strings.Trim(ext, "0123456789") != "" {
			t.Fatalf("phone %q has a bad extension %q", txt, ext)
		}
		num = txt[:x]
		for _, p := range []string{"ex", "e", " "} {
			num = strings.TrimSuffix(strings.TrimRight(num, " "), p)
		}
	}
	d := 0
	for i := 0; i < len(num); i++ {
		if num[i] >= '0' && num[i] <= '9' {
			d++
		} else if strings.IndexByte("+-. ()", num[i]) < 0 {
			t.Fatalf("phone %q has a non-separator %q", txt, num[i])
		}
	}
	if d < minPhoneDigits || d > maxPhoneDigits+2 {
		t.Fatalf("phone %q has %d digits", txt, d)
	}
}

// FuzzPhoneCandidates drives the phone candidate finder (numeric groups, shapes, context words,
// extensions) and libphonenumber with arbitrary text around number-like seeds.
func FuzzPhoneCandidates(f *testing.F) {
	for _, l := range []string{
		"call 07911 123 456 x12", "+44 20 7946 0958 ext. 204", "001-212-555-0199x456", "(11) 2345-6789",
		"555.201.7788", "phone number: 4155552671", "order #555-201-7788", "06 12 34 56 78", "0044 (0) 20 7946 0958",
		"tel ++1 (((555))) 12-34 extension 1234567", "2024-01-15 10:30:00+01:00", "1795775244151045000",
	} {
		f.Add(l)
	}
	s := New(Options{Disabled: allBut(Phone)})
	f.Fuzz(func(t *testing.T, v string) {
		prev := 0
		for _, m := range s.Scan(v, nil) {
			if m.Start < prev || m.End <= m.Start || m.End > len(v) || Kind(m.Det) != Phone {
				t.Fatalf("bad match %+v in %q", m, v)
			}
			prev = m.End
			checkPhone(t, v[m.Start:m.End])
		}
		for i := 0; i <= len(v); i++ {
			if e := extensionEnd(v, i); e < i || e > len(v) {
				t.Fatalf("extensionEnd(%q, %d) = %d", v, i, e)
			}
		}
		_, _ = phoneContext(v, len(v))
	})
}

// FuzzKeywordRule checks the free-text secret rules: a match follows a keyword closely, is no
// stop word or placeholder, and holds no whitespace unless it was quoted.
func FuzzKeywordRule(f *testing.F) {
	for _, l := range []string{
		"password is hunter2", "api key: abc123", "the secret for the db is x9y8z7!", `token = "two words 9"`,
		"token expired", "password: [REDACTED:secret_keyword]", "access key AKIAIOSFODNN7EXAMPLE and secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"pin code = 1234", "DB_PASSWORD=monkey&93", "secret:", "token is ", "apikey='", "private key is \"",
	} {
		f.Add(l)
	}
	s := New(Options{Disabled: allBut(SecretKeyword, SecretEntropy), SecretKeywords: []string{"pin code"}})
	f.Fuzz(func(t *testing.T, v string) {
		prev := 0
		for _, m := range s.Scan(v, nil) {
			if m.Start < prev || m.End <= m.Start || m.End > len(v) {
				t.Fatalf("bad match %+v in %q", m, v)
			}
			prev = m.End
			val := v[m.Start:m.End]
			before := strings.ToLower(v[max(0, m.Start-entropyLookahead-maxKeywordGap-16):m.Start])
			found := false
			for _, kw := range append(append([]string{"key", "pin code"}, DefaultSecretKeywords...), secretSuffixes...) {
				if strings.Contains(before, kw) {
					found = true
				}
			}
			if !found {
				t.Fatalf("secret %q in %q follows no keyword", val, v)
			}
			quoted := m.Start > 0 && strings.IndexByte("\"'`", v[m.Start-1]) >= 0
			if !quoted && strings.ContainsAny(val, " \t\n\r") {
				t.Fatalf("unquoted secret %q in %q holds whitespace", val, v)
			}
			if inFold(secretStopWords, val) || placeholder(val) {
				t.Fatalf("stop word or placeholder %q masked in %q", val, v)
			}
		}
	})
}

func allBut(keep ...Kind) []Kind {
	var off []Kind
	for k := Kind(0); k < NumKinds; k++ {
		on := false
		for _, x := range keep {
			on = on || x == k
		}
		if !on {
			off = append(off, k)
		}
	}
	return off
}
