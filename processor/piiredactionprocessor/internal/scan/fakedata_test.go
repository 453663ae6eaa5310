package scan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/brianvoe/gofakeit/v7"
	"github.com/brianvoe/gofakeit/v7/data"
	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
)

// caughtIn reports whether every letter and digit of v[s:e] is inside a match.
func caughtIn(sc *Scanner, v string, s, e int) bool {
	covered := make([]bool, len(v))
	for _, m := range sc.Scan(v, nil) {
		for k := m.Start; k < m.End; k++ {
			covered[k] = true
		}
	}
	for k := s; k < e; k++ {
		if isAlnum(v[k]) && !covered[k] {
			return false
		}
	}
	return true
}

// TestFakeDataLibrary cross-checks the detectors on values from an independent fake-data
// library (gofakeit: its own card ranges, lengths and Luhn, US phone formats), so the brand
// table and the phone shapes are not only measured on values this package's generator makes.
// Types and lengths gofakeit issues that the brand table leaves out on purpose are reported,
// not asserted: see cardbrands.go.
func TestFakeDataLibrary(t *testing.T) {
	f := gofakeit.New(14)
	sc := New(Options{})
	const n = 400
	for _, typ := range data.CreditCardTypes {
		caught, inTable := 0, 0
		var outside []string
		for i := range n {
			num := f.CreditCardNumber(&gofakeit.CreditCardOptions{Types: []string{typ}, Gaps: i%2 == 0})
			v := "payment declined for card " + num + " at checkout"
			s := strings.Index(v, num)
			ok := caughtIn(sc, v, s, s+len(num))
			if ok {
				caught++
			}
			var buf [maxCardDigits]byte
			if CardBrand(digitsOf(num, buf[:0])) != "" {
				inTable++
				assert.True(t, ok, "%s card %q is in the brand table but was not caught", typ, num)
			} else if len(outside) < 2 {
				outside = append(outside, num)
			}
		}
		fmt.Printf("piiredaction gofakeit %-16s cards caught %3d/%d; %3d in the brand table, e.g. outside it: %v\n", typ, caught, n, inTable, outside)
	}
	for _, x := range []struct {
		name, format string
		gen          func() string
		assertAll    bool
	}{
		{"formatted, context", "please call %s tomorrow", f.PhoneFormatted, true},
		{"formatted, no context", "customer %s updated", f.PhoneFormatted, true},
		{"bare, context", "call %s tomorrow", f.Phone, false},
		{"bare, no context (must stay)", "processed %s rows", f.Phone, false},
	} {
		caught := 0
		for range n {
			num := x.gen()
			v := fmt.Sprintf(x.format, num)
			s := strings.Index(v, num)
			if caughtIn(sc, v, s, s+len(num)) {
				caught++
			}
		}
		fmt.Printf("piiredaction gofakeit phones %-28s caught %3d/%d\n", x.name, caught, n)
		if x.assertAll {
			assert.Equal(t, n, caught, x.name)
		}
		if strings.Contains(x.name, "must stay") {
			assert.Zero(t, caught, x.name)
		}
	}
}

// TestLibphonenumberExamples formats libphonenumber's own example numbers (fixed line and
// mobile) the way its metadata says each country writes them: internationally for every
// region, nationally for the configured ones, so the phone shapes are checked against
// formatting rules this package did not write.
func TestLibphonenumberExamples(t *testing.T) {
	sc := New(Options{})
	configured := map[string]bool{}
	for _, r := range DefaultPhoneRegions {
		configured[r] = true
	}
	var intl, intlCaught, natl, natlCaught, natlCtx, natlCtxCaught int
	var missed []string
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
			num := phonenumbers.GetExampleNumberForType(region, typ)
			if num == nil {
				continue
			}
			in := phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
			v := "customer " + in + " updated"
			intl++
			if caughtIn(sc, v, 9, 9+len(in)) {
				intlCaught++
			} else if len(missed) < 8 {
				missed = append(missed, region+":"+in)
			}
			if !configured[region] {
				continue
			}
			nat := phonenumbers.Format(num, phonenumbers.NATIONAL)
			natl++
			if caughtIn(sc, "customer "+nat+" updated", 9, 9+len(nat)) {
				natlCaught++
			}
			natlCtx++
			if caughtIn(sc, "please call "+nat+" today", 12, 12+len(nat)) {
				natlCtxCaught++
			} else {
				missed = append(missed, region+" national:"+nat)
			}
		}
	}
	fmt.Printf("piiredaction libphonenumber examples: international %d/%d, national (configured regions) %d/%d without context, %d/%d after \"call\"; missed e.g. %v\n",
		intlCaught, intl, natlCaught, natl, natlCtxCaught, natlCtx, missed)
	assert.GreaterOrEqual(t, float64(intlCaught)/float64(intl), 0.95, "international examples")
	assert.Equal(t, natlCtx, natlCtxCaught, "national examples of the configured regions after a context word")
}
