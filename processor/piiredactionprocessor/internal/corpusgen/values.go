package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Value generators. Every card passes Luhn and every IBAN mod-97, computed here and not by the
// scanner under test, so a wrong label fails the corpus instead of agreeing with the code.

type gen struct {
	label string // detector the value must be caught by; "" = must stay untouched
	fn    func(r *rand.Rand) string
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func luhnCheckDigit(body string) byte {
	sum := 0
	double := true // the check digit is appended to the right, so the body's last digit doubles
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// LuhnValid is the independent check used by the tests of this generator.
func LuhnValid(s string) bool {
	sum, double := 0, false
	n := 0
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

type brand struct {
	prefixes []string
	lengths  []int
	groups   [][]int // printed groupings; nil = 4-4-4-…
}

// Brands as issued (see the scanner's cardBrands table for the source).
var brands = map[string]brand{
	"visa":       {[]string{"4"}, []int{16, 16, 16, 13, 19}, nil},
	"mastercard": {[]string{"51", "52", "53", "54", "55", "2221", "2300", "2720"}, []int{16}, nil},
	"amex":       {[]string{"34", "37"}, []int{15}, [][]int{{4, 6, 5}}},
	"discover":   {[]string{"6011", "65", "644", "649"}, []int{16}, nil},
	"jcb":        {[]string{"3528", "3530", "3566", "3589"}, []int{16}, nil},
	"jcb15":      {[]string{"1800", "2131"}, []int{15}, [][]int{{4, 6, 5}, {4, 4, 4, 3}}},
	"diners":     {[]string{"300", "301", "305", "36", "38"}, []int{14}, [][]int{{4, 6, 4}}},
	"maestro":    {[]string{"5018", "5020", "5038", "6304", "6759", "6761", "6763", "56", "58"}, []int{12, 13, 16, 19}, nil},
	"unionpay":   {[]string{"62", "6212", "6250"}, []int{16, 19}, nil},
	"mir":        {[]string{"2200", "2201", "2202", "2204"}, []int{16}, nil},
}

func cardDigits(r *rand.Rand, b brand) string {
	p := pick(r, b.prefixes)
	n := pick(r, b.lengths)
	body := p + digits(r, n-1-len(p))
	return body + string(luhnCheckDigit(body))
}

func groupCard(r *rand.Rand, d string, b brand) string {
	var sizes []int
	if b.groups != nil && len(d) == sum(b.groups[0]) {
		sizes = pick(r, b.groups)
		if sum(sizes) != len(d) {
			sizes = b.groups[0]
		}
	} else {
		for left := len(d); left > 0; left -= 4 {
			sizes = append(sizes, min(4, left))
		}
	}
	sep := pick(r, []string{" ", "-"})
	var out []string
	at := 0
	for _, s := range sizes {
		out = append(out, d[at:at+s])
		at += s
	}
	return strings.Join(out, sep)
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// card draws a brand, then prints the number grouped or compact. Compact 12-digit Maestro
// numbers only appear where a template names a card (they are ids otherwise).
func card(names ...string) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		b := brands[pick(r, names)]
		d := cardDigits(r, b)
		if r.IntN(2) == 0 && len(d) > 12 {
			return d
		}
		return groupCard(r, d, b)
	}
}

var usAreas = []string{"212", "213", "305", "312", "404", "415", "503", "512", "617", "646", "702", "718", "818", "917", "206", "303"}

func usPhone(r *rand.Rand) string {
	a := pick(r, usAreas)
	e := strconv.Itoa(2+r.IntN(8)) + digits(r, 2)
	l := digits(r, 4)
	f := pick(r, []string{"(%s) %s-%s", "%s-%s-%s", "%s.%s.%s", "+1 %s %s %s", "+1-%s-%s-%s", "1-%s-%s-%s", "001-%s-%s-%s", "+1 (%s) %s-%s"})
	return fmt.Sprintf(f, a, e, l) + ext(r)
}

func ext(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return "x" + digits(r, 3)
	case 1:
		return " ext. " + digits(r, 2+r.IntN(3))
	case 2:
		return " x" + digits(r, 4)
	}
	return ""
}

func ukPhone(r *rand.Rand) string {
	mob := "7" + strconv.Itoa(4+r.IntN(6)) + digits(r, 2)
	switch r.IntN(7) {
	case 0:
		return "0" + mob + " " + digits(r, 6)
	case 1:
		d := digits(r, 6)
		return "0" + mob + " " + d[:3] + " " + d[3:]
	case 2:
		return "+44 " + mob + " " + digits(r, 6) + ext(r)
	case 3:
		return "020 7" + digits(r, 3) + " " + digits(r, 4) + ext(r)
	case 4:
		return "+44 20 7" + digits(r, 3) + " " + digits(r, 4) + ext(r)
	case 5:
		return "0044 20 3" + digits(r, 3) + " " + digits(r, 4)
	default:
		return "0161 " + strconv.Itoa(2+r.IntN(8)) + digits(r, 2) + " " + digits(r, 4)
	}
}

func dePhone(r *rand.Rand) string {
	switch r.IntN(5) {
	case 0:
		return "030 " + strconv.Itoa(2+r.IntN(8)) + digits(r, 6)
	case 1:
		return "+49 30 " + strconv.Itoa(2+r.IntN(8)) + digits(r, 6)
	case 2:
		return "0151 " + digits(r, 8)
	case 3:
		return "+49 171 " + digits(r, 7)
	default:
		return "030 " + digits(r, 2) + " " + digits(r, 3)
	}
}

func frPhone(r *rand.Rand) string {
	p := strconv.Itoa(1 + r.IntN(7))
	g := []string{digits(r, 2), digits(r, 2), digits(r, 2), digits(r, 2)}
	switch r.IntN(3) {
	case 0:
		return "0" + p + " " + strings.Join(g, " ")
	case 1:
		return "+33 " + p + " " + strings.Join(g, " ")
	default:
		return "0" + p + "." + strings.Join(g, ".")
	}
}

func inPhone(r *rand.Rand) string {
	m := strconv.Itoa(6+r.IntN(4)) + digits(r, 4)
	switch r.IntN(3) {
	case 0:
		return "+91 " + m + " " + digits(r, 5)
	case 1:
		return "+91-" + m + "-" + digits(r, 5)
	default:
		return "0" + m + " " + digits(r, 5)
	}
}

func brPhone(r *rand.Rand) string {
	a := pick(r, []string{"11", "21", "31", "41", "51", "61", "71", "81"})
	switch r.IntN(3) {
	case 0:
		return "(" + a + ") 9" + digits(r, 4) + "-" + digits(r, 4)
	case 1:
		return "(" + a + ") " + strconv.Itoa(2+r.IntN(4)) + digits(r, 3) + "-" + digits(r, 4)
	default:
		return "+55 " + a + " 9" + digits(r, 4) + "-" + digits(r, 4)
	}
}

func auPhone(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return "04" + digits(r, 2) + " " + digits(r, 3) + " " + digits(r, 3)
	case 1:
		return "(0" + pick(r, []string{"2", "3", "7", "8"}) + ") " + strconv.Itoa(5+r.IntN(4)) + digits(r, 3) + " " + digits(r, 4)
	default:
		return "+61 4" + digits(r, 2) + " " + digits(r, 3) + " " + digits(r, 3)
	}
}

func esPhone(r *rand.Rand) string {
	n := "6" + digits(r, 2) + " " + digits(r, 3) + " " + digits(r, 3)
	if r.IntN(2) == 0 {
		return "+34 " + n
	}
	return n
}

func anyPhone(r *rand.Rand) string {
	return pick(r, []func(*rand.Rand) string{usPhone, usPhone, ukPhone, ukPhone, dePhone, frPhone, inPhone, brPhone, auPhone})(r)
}

// barePhone is a 10-digit number without separators: a phone only where a template says so.
func barePhone(r *rand.Rand) string {
	return pick(r, usAreas) + strconv.Itoa(2+r.IntN(8)) + digits(r, 6)
}

// IBAN structures: country, BBAN pattern ('n' digit, 'a' upper letter, 'c' alphanumeric).
var ibanFormats = map[string]string{
	"DE": "nnnnnnnnnnnnnnnnnn", "GB": "aaaannnnnnnnnnnnnn", "FR": "nnnnnnnnnncccccccccccnn",
	"ES": "nnnnnnnnnnnnnnnnnnnn", "IT": "annnnnnnnnncccccccccccc", "NL": "aaaannnnnnnnnn",
	"BE": "nnnnnnnnnnnn", "CH": "nnnnncccccccccccc", "AT": "nnnnnnnnnnnnnnnn", "PL": "nnnnnnnnnnnnnnnnnnnnnnnn",
	"IE": "aaaannnnnnnnnnnnnn", "PT": "nnnnnnnnnnnnnnnnnnnnn",
}

func ibanCompact(r *rand.Rand) string {
	cc := pick(r, []string{"DE", "GB", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "PL", "IE", "PT"})
	var b strings.Builder
	for _, c := range ibanFormats[cc] {
		switch c {
		case 'n':
			b.WriteByte(byte('0' + r.IntN(10)))
		case 'a':
			b.WriteByte(byte('A' + r.IntN(26)))
		default:
			if r.IntN(3) == 0 {
				b.WriteByte(byte('A' + r.IntN(26)))
			} else {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
		}
	}
	bban := b.String()
	check := 98 - mod97(bban+cc+"00")
	return fmt.Sprintf("%s%02d%s", cc, check, bban)
}

func mod97(s string) int {
	rem := 0
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			rem = (rem*100 + int(c-'A'+10)) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return rem
}

// IBANValid is the independent mod-97 check used by this generator's tests.
func IBANValid(s string) bool {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if len(s) < 5 {
		return false
	}
	return mod97(s[4:]+s[:4]) == 1
}

func iban(r *rand.Rand) string {
	s := ibanCompact(r)
	if r.IntN(2) == 0 {
		var g []string
		for i := 0; i < len(s); i += 4 {
			g = append(g, s[i:min(len(s), i+4)])
		}
		s = strings.Join(g, " ")
	}
	if r.IntN(3) == 0 {
		s = strings.ToLower(s)
	}
	return s
}

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64    = alnum + "+/"
	hexLow = "0123456789abcdef"
)

func randFrom(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

var pwWords = []string{"hunter", "dragon", "summer", "Winter", "monkey", "Sunshine", "letmein", "qwerty", "Tr0ub4dor", "Passw0rd", "shadow", "master", "Autumn", "coffee"}

func password(r *rand.Rand) string {
	w := pick(r, pwWords)
	switch r.IntN(4) {
	case 0:
		return w + digits(r, 1+r.IntN(3))
	case 1:
		return w + pick(r, []string{"!", "#", "$", "@", "&", "*"}) + digits(r, 2)
	case 2:
		return randFrom(r, alnum, 10+r.IntN(6))
	default:
		return strings.ToUpper(w[:1]) + w[1:] + digits(r, 4) + "!"
	}
}

func apiKey(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return randFrom(r, alnum, 32)
	case 1:
		return randFrom(r, hexLow, 32)
	default:
		return "k-" + randFrom(r, alnum, 24)
	}
}

// entropyToken is a 24–40 character random token: what the high-entropy rule is for.
func entropyToken(r *rand.Rand) string {
	for {
		t := randFrom(r, alnum, 24+r.IntN(17))
		if strings.ContainsAny(t, "0123456789") && strings.ContainsAny(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return t
		}
	}
}

func awsSecret(r *rand.Rand) string {
	for {
		t := randFrom(r, b64, 40)
		if strings.ContainsAny(t, "abcdefghijklmnopqrstuvwxyz") && strings.ContainsAny(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return t
		}
	}
}

func awsKeyID(r *rand.Rand) string {
	return pick(r, []string{"AKIA", "ASIA"}) + randFrom(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
}

var firstNames = []string{"anna", "bob", "chen", "dmitri", "eva", "farid", "grace", "hiro", "ines", "jonas", "kofi", "lena"}
var domains = []string{"example.com", "mail.example.org", "shop.example.net", "corp.example.co.uk"}

func email(r *rand.Rand) string {
	return pick(r, firstNames) + pick(r, []string{".", "_", ""}) + pick(r, []string{"smith", "ng", "garcia", "mueller", "rossi"}) + "@" + pick(r, domains)
}

func ssn(r *rand.Rand) string {
	return fmt.Sprintf("%03d-%02d-%04d", 1+r.IntN(665), 1+r.IntN(98), 1+r.IntN(9998))
}

// Clean values: things that look numeric or random and must never be masked.

func uuid(r *rand.Rand) string {
	h := randFrom(r, hexLow, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

func isoTime(r *rand.Rand) string {
	return fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02d.%03dZ", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000))
}

func epoch(r *rand.Rand) string {
	s := 1764000000 + r.IntN(30000000)
	switch r.IntN(4) {
	case 0:
		return strconv.Itoa(s)
	case 1:
		return strconv.Itoa(s) + digits(r, 3)
	case 2:
		return strconv.Itoa(s) + digits(r, 9)
	default:
		return strconv.Itoa(s) + "." + digits(r, 6)
	}
}

func price(r *rand.Rand) string {
	n := 1 + r.IntN(99999)
	c := r.IntN(100)
	switch r.IntN(4) {
	case 0:
		return fmt.Sprintf("$%s.%02d", thousands(n, ","), c)
	case 1:
		return fmt.Sprintf("EUR %s,%02d", thousands(n, "."), c)
	case 2:
		return fmt.Sprintf("%s,%02d €", thousands(n, " "), c)
	default:
		return fmt.Sprintf("%d.%02d USD", n, c)
	}
}

func thousands(n int, sep string) string {
	s := strconv.Itoa(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), sep)
}

func version(r *rand.Rand) string {
	return fmt.Sprintf("%s%d.%d.%d", pick(r, []string{"v", "", "go"}), r.IntN(12), r.IntN(40), r.IntN(200))
}

func duration(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return strconv.Itoa(r.IntN(90000)) + "ms"
	case 1:
		return fmt.Sprintf("%dm%ds", r.IntN(60), r.IntN(60))
	case 2:
		return fmt.Sprintf("%d.%03ds", r.IntN(100), r.IntN(1000))
	default:
		return fmt.Sprintf("%02d:%02d:%02d.%03d", r.IntN(3), r.IntN(60), r.IntN(60), r.IntN(1000))
	}
}

func hostPort(r *rand.Rand) string {
	return pick(r, []string{"localhost", "redis", "db.internal", "queue-0.queue"}) + ":" + strconv.Itoa(pick(r, []int{6379, 5432, 8088, 4317, 4318, 50051, 27017, 9200}))
}

// orderNumber looks like a phone (10 digits, or NANP-grouped) but names an order.
func orderNumber(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return barePhone(r)
	case 1:
		return pick(r, usAreas) + "-" + strconv.Itoa(2+r.IntN(8)) + digits(r, 2) + "-" + digits(r, 4)
	default:
		return digits(r, 3) + " " + digits(r, 3) + " " + digits(r, 3)
	}
}

func accountID(r *rand.Rand) string { return digits(r, 12) }

func workerID(r *rand.Rand) string {
	return fmt.Sprintf("vm-%d-%d-%s-%d", 10000+r.IntN(90000), 1795775243850107691+r.Int64N(1e12), randFrom(r, hexLow, 4), r.IntN(8))
}

func filePath(r *rand.Rand) string {
	return fmt.Sprintf("/data/in/batch-%04d/file-%06d.csv", r.IntN(10000), r.IntN(1000000))
}
