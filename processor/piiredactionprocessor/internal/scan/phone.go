package scan

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// DefaultPhoneRegions are the regions whose national formats are tried for numbers written
// without a country code: the countries the measured traffic came from.
var DefaultPhoneRegions = []string{"US", "GB", "DE", "FR", "IN", "BR", "AU"}

// Phone candidates are scored: the scanner's shape and the words before the number propose,
// libphonenumber (github.com/nyaruka/phonenumbers) decides whether the digits can be a number
// of one of the configured regions. A candidate is masked at phoneAccept or more.
const (
	phoneAccept = 4

	shapeInternational = 3 // +44 …, 0044 …, 001-…
	shapeNANP          = 3 // (415) 555-2671, 415-555-2671, 415.555.2671, 1-800-555-0199
	shapeParen         = 2 // (11) 2345-6789, (02) 9876 5432
	shapeTrunk         = 2 // 020 7946 0958, 07911 123 456, 06 12 34 56 78, 030 12 345
	shapeGrouped       = 1 // other groups of 2–5 digits
	shapeWeak          = 0 // one run of digits, or space-separated triples (1 234 567 is a count)

	scoreExtension = 2 // "x123", "ext. 45" after the number
	scoreContext   = 2 // "call", "phone", "tel", … shortly before
	scoreNegative  = -3
	scoreValid     = 2 // valid number for a configured region (or, with +, anywhere)
	scorePossible  = 1 // right length for a configured region, unassigned range
)

// Bounds on the digits of a candidate (without an extension), national and international.
const (
	minPhoneDigits     = 8
	maxNationalDigits  = 13
	maxPhoneDigits     = 15
	maxExtensionDigits = 6
)

// phoneContextWords raise a candidate's score when one of them is among the few words before it.
var phoneContextWords = []string{
	"call", "called", "calling", "phone", "phoned", "tel", "telephone", "mobile", "mob", "cell",
	"cellphone", "fax", "contact", "contacted", "reach", "reached", "sms", "text", "texted",
	"whatsapp", "dial", "dialed", "dialled", "ring", "landline", "hotline", "ph", "callback",
}

// phoneNeutralWords are skipped when looking for context: "phone number", "tel no.".
var phoneNeutralWords = []string{"number", "no", "nr", "num", "at", "on", "me", "us", "him", "her", "them", "or", "and", "the", "my", "your", "our", "is", "was", "please", "back", "to"}

// phoneNegativeWords name a number as something else (an order number, an amount) when they
// come right before it. Words for people ("customer", "user") are not here: a number after them
// is as likely their phone as their id, and weak shapes need a context word anyway.
var phoneNegativeWords = []string{
	"order", "orders", "invoice", "ref", "reference", "ticket", "id", "account", "acct", "txn",
	"transaction", "tracking", "sku", "batch", "build", "pid", "port", "amount", "total", "price",
	"balance", "usd", "eur", "gbp", "inr", "brl", "aud", "bytes", "rows", "records", "items",
	"size", "offset", "seq", "sequence", "serial", "version", "case", "item", "shipment",
	"parcel", "pin", "code",
}

const contextWindow = 32

// phoneContext reports whether a context word is among the few words before start
// (positive), or the nearest word names something else (negative).
func phoneContext(v string, start int) (pos, neg bool) {
	lo := max(0, start-contextWindow)
	words := 0
	for e := start; e > lo && words < 4; {
		for e > lo && !isAlpha(v[e-1]) {
			switch c := v[e-1]; {
			case c == '$' || c == '#':
				return false, true
			case c >= 0x80 && e-lo >= 3 && v[e-3:e] == "€":
				return false, true
			case isDigit(c):
				return false, false // another number in between: the words are about that one
			}
			e--
		}
		b := e
		for b > lo && isAlpha(v[b-1]) {
			b--
		}
		if b == e || (b == lo && lo > 0 && isAlpha(v[lo-1])) {
			break // nothing, or a word cut by the window
		}
		w := v[b:e]
		switch {
		case inFold(phoneContextWords, w):
			return true, false
		case inFold(phoneNegativeWords, w):
			if words == 0 {
				return false, true // "order 4155552671", "ticket #555-201-7788"
			}
			words++ // "user bob left number …": the number is not the user's id
		case !inFold(phoneNeutralWords, w):
			words++
		}
		e = b
	}
	return false, false
}

func inFold(list []string, w string) bool {
	if len(w) > 12 {
		return false
	}
	for _, x := range list {
		if len(x) == len(w) && strings.EqualFold(x, w) {
			return true
		}
	}
	return false
}

// phoneShape scores the groups of a candidate. intl is set for +, 00 and 011 prefixes.
func phoneShape(v string, gs []group, intl bool) (int, bool) {
	k := len(gs)
	d := 0
	hasParen, triples, sameSep := false, true, true
	for x, g := range gs {
		l := g.de - g.ds
		d += l
		if g.paren || g.sep == ')' {
			hasParen = true
		}
		if l != 3 && !(x == 0 && l <= 3) {
			triples = false
		}
		if x > 1 && g.sep != gs[1].sep {
			sameSep = false
		}
	}
	if intl {
		if d < minPhoneDigits || d > maxPhoneDigits+2 {
			return 0, false
		}
		return shapeInternational, true
	}
	if d < minPhoneDigits || d > maxNationalDigits {
		return 0, false
	}
	if k == 1 {
		if d == 10 && v[gs[0].ds] == '1' {
			return 0, false // epoch seconds (2001–2033); no NANP, UK or Indian number starts so
		}
		return shapeWeak, true
	}
	if isNANP(v, gs) && (sameSep || gs[0].paren) {
		// Any leading digit: fake and test numbers (555-…, 123-456-7890) are written the same way
		// and still name a person; libphonenumber then only has to find the length possible.
		return shapeNANP, true
	}
	if dateLike(gs) {
		return 0, false
	}
	for x, g := range gs {
		if l := g.de - g.ds; l > 8 || (l == 1 && x > 0) {
			return 0, false // "0 1 2 3 4 5 6 7 8 9" is a sequence, not a number
		}
	}
	if hasParen {
		if gs[0].de-gs[0].ds > 4 {
			return 0, false
		}
		return shapeParen, true
	}
	if v[gs[0].ds] == '0' && v[gs[0].ds+1] != '0' && gs[0].de-gs[0].ds <= 5 && sameSep {
		return shapeTrunk, true
	}
	if triples && gs[1].sep == ' ' {
		return shapeWeak, true
	}
	if !sameSep {
		return 0, false
	}
	if len(gs) >= 4 && gs[0].de-gs[0].ds == 3 && pairsAfterFirst(gs) {
		return shapeTrunk, true // 612 34 56 78 (Spain): counts are not written in pairs
	}
	return shapeGrouped, true
}

func pairsAfterFirst(gs []group) bool {
	for _, g := range gs[1:] {
		if g.de-g.ds != 2 {
			return false
		}
	}
	return true
}

// dateLike matches yyyy-mm-dd, dd-mm-yyyy, dd.mm.yyyy and yyyy mm dd groupings.
func dateLike(gs []group) bool {
	if len(gs) != 3 {
		return false
	}
	l0, l1, l2 := gs[0].de-gs[0].ds, gs[1].de-gs[1].ds, gs[2].de-gs[2].ds
	return (l0 == 4 && l1 <= 2 && l2 <= 2) || (l0 <= 2 && l1 <= 2 && l2 == 4)
}

// extensionEnd returns the end of a phone extension ("x123", " ext. 123", " extension 12",
// " #12") starting at e, or e when there is none.
func extensionEnd(v string, e int) int {
	n := len(v)
	k := e
	for k < n && k-e < 2 && v[k] == ' ' {
		k++
	}
	if k >= n {
		return e
	}
	switch {
	case v[k] == '#':
		k++
	case hasPrefixFold(v[k:], "extension"):
		k += 9
	case hasPrefixFold(v[k:], "ext"):
		k += 3
		if k < n && v[k] == '.' {
			k++
		}
	case v[k] == 'x' || v[k] == 'X':
		k++
	default:
		return e
	}
	for k < n && (v[k] == ' ' || v[k] == ':') && k-e < 14 {
		k++
	}
	ds := k
	for k < n && isDigit(v[k]) {
		k++
	}
	if k == ds || k-ds > maxExtensionDigits || (k < n && isIdent(v[k])) {
		return e
	}
	return k
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// KnownPhoneRegion reports whether libphonenumber has metadata for the region code (any case).
func KnownPhoneRegion(r string) bool {
	return len(r) == 2 && phonenumbers.GetSupportedRegions()[strings.ToUpper(r)]
}

// phoneJudge asks libphonenumber about a candidate.
type phoneJudge struct {
	regions []phoneRegion
}

type phoneRegion struct {
	code string // ISO 3166-1 alpha-2, upper case
	cc   int32  // country calling code
	ndd  string // national (trunk) prefix: "0", "1" for NANP
}

func newPhoneJudge(regions []string) phoneJudge {
	var j phoneJudge
	for _, r := range regions {
		r = strings.ToUpper(r)
		cc := phonenumbers.GetCountryCodeForRegion(r)
		if cc == 0 {
			continue // Config.Validate rejects these; the scanner just skips them
		}
		j.regions = append(j.regions, phoneRegion{code: r, cc: int32(cc), ndd: phonenumbers.GetNddPrefixForRegion(r, true)})
	}
	return j
}

// score returns scoreValid, scorePossible or -1 for text, the candidate as written without its
// extension. need is what the candidate lacks to be accepted: with need <= scorePossible a
// number of the right length for some region (or, international, for its country) suffices and
// the costlier validity check is skipped.
//
// The national number is built here (digits, national prefix stripped) and handed to
// libphonenumber's metadata checks directly: its Parse spends most of its time in regexes for
// punctuation, extensions and prefixes that the scanner has already taken apart. Numbers the
// shortcut cannot express (a national number with a leading zero, "+44 (0) 20 …") go through
// Parse.
func (p *phoneJudge) score(text string, intl bool, need int) int {
	var buf [maxPhoneDigits + 4]byte
	d := buf[:0]
	for i := 0; i < len(text); i++ {
		if c := text[i]; isDigit(c) {
			if len(d) == cap(d) {
				return -1
			}
			d = append(d, c)
		}
	}
	if intl {
		if text[0] != '+' {
			d = d[2:] // 00 prefix
		}
		for l := 1; l <= 3 && l < len(d); l++ {
			cc := int32(prefixNum(d, l))
			if phonenumbers.GetRegionCodeForCountryCode(int(cc)) == "ZZ" || d[l] == '0' {
				continue
			}
			return judge(cc, d[l:], "", need)
		}
		// "+44 (0) 20 …": Parse knows the trunk prefix in parentheses.
		if text[0] != '+' {
			text = "+" + text[2:]
		}
		var num phonenumbers.PhoneNumber
		if phonenumbers.ParseToNumber(text, "ZZ", &num) != nil {
			return -1
		}
		return verdict(&num, "", need)
	}
	best := -1
	for _, r := range p.regions {
		nsn := d
		if r.ndd != "" && len(d) > len(r.ndd) && string(d[:len(r.ndd)]) == r.ndd {
			nsn = d[len(r.ndd):]
		}
		var got int
		if nsn[0] == '0' {
			var num phonenumbers.PhoneNumber
			if phonenumbers.ParseToNumber(text, r.code, &num) != nil {
				continue
			}
			got = verdict(&num, r.code, need)
		} else {
			got = judge(r.cc, nsn, r.code, need)
		}
		if got == scoreValid || (got == scorePossible && need <= scorePossible) {
			return got
		}
		best = max(best, got)
	}
	return best
}

func judge(cc int32, nsn []byte, region string, need int) int {
	var nn uint64
	for _, c := range nsn {
		nn = nn*10 + uint64(c-'0')
	}
	num := phonenumbers.PhoneNumber{CountryCode: &cc, NationalNumber: &nn}
	return verdict(&num, region, need)
}

func verdict(num *phonenumbers.PhoneNumber, region string, need int) int {
	if !phonenumbers.IsPossibleNumber(num) {
		return -1
	}
	if need <= scorePossible {
		return scorePossible
	}
	valid := false
	if region == "" {
		valid = phonenumbers.IsValidNumber(num)
	} else {
		valid = phonenumbers.IsValidNumberForRegion(num, region)
	}
	if valid {
		return scoreValid
	}
	return scorePossible
}

// phone decides whether gs (the groups of v starting at start) is a phone number, and returns
// the end of the match including any extension.
func (s *Scanner) phone(v string, gs []group, start int, plus bool, endOK bool) (int, bool) {
	intl00 := !plus && gs[0].de-gs[0].ds >= 2 && v[gs[0].ds] == '0' && v[gs[0].ds+1] == '0' && !gs[0].paren
	score, ok := phoneShape(v, gs, plus || intl00)
	if !ok {
		return 0, false
	}
	end := gs[len(gs)-1].e
	xe := extensionEnd(v, end)
	if !endOK && xe == end {
		return 0, false
	}
	if xe > end {
		score += scoreExtension
	}
	pos, neg := phoneContext(v, start)
	switch {
	case pos:
		score += scoreContext
	case neg:
		score += scoreNegative
	}
	if score+scoreValid < phoneAccept {
		return 0, false // not worth a parse
	}
	lib := s.judge.score(v[start:end], plus || intl00, phoneAccept-score)
	if lib < 0 || score+lib < phoneAccept {
		return 0, false
	}
	return xe, true
}
