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
				d := 0
				for i := 0; i < len(txt); i++ {
					if txt[i] >= '0' && txt[i] <= '9' {
						d++
					} else if strings.IndexByte("+-. ()", txt[i]) < 0 {
						t.Fatalf("phone %q has a non-separator", txt)
					}
				}
				if d < 8 || d > 15 {
					t.Fatalf("phone %q has %d digits", txt, d)
				}
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
