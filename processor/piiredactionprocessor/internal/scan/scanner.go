package scan

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// Rule is a user-defined detector: a regex, optionally followed by a validator.
type Rule struct {
	Re    *regexp.Regexp
	Valid func(string) bool
	// lit is a literal every match contains; values without it skip the regex.
	lit string
}

// NewRule compiles a custom rule. validator may be empty.
func NewRule(pattern, validator string) (Rule, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return Rule{}, err
	}
	r := Rule{Re: re, lit: requiredLiteral(pattern)}
	if validator != "" {
		v, ok := Validator(validator)
		if !ok {
			return Rule{}, &UnknownValidatorError{Name: validator}
		}
		r.Valid = v
	}
	return r, nil
}

// UnknownValidatorError names a validator that does not exist.
type UnknownValidatorError struct{ Name string }

func (e *UnknownValidatorError) Error() string {
	return "unknown validator " + `"` + e.Name + `"` + " (known: " + strings.Join(ValidatorNames(), ", ") + ")"
}

// requiredLiteral returns the longest literal that every match must contain (case-sensitive
// concatenations only), so the regex runs only on values that contain it.
func requiredLiteral(pattern string) string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	best := ""
	var walk func(r *syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpLiteral:
			if r.Flags&syntax.FoldCase == 0 && len(r.Rune) > len(best) {
				best = string(r.Rune)
			}
		case syntax.OpConcat, syntax.OpCapture:
			for _, s := range r.Sub {
				walk(s)
			}
		case syntax.OpPlus:
			walk(r.Sub[0])
		case syntax.OpRepeat:
			if r.Min > 0 {
				walk(r.Sub[0])
			}
		}
	}
	walk(re)
	return best
}

// Options configures a Scanner.
type Options struct {
	// Disabled built-in detectors.
	Disabled []Kind
	// SecretParams are parameter names (query string, key=value, "key":"value") whose value is a
	// secret; nil means DefaultSecretParams.
	SecretParams []string
	// Rules are custom detectors; their matches get Det = NumKinds + index.
	Rules []Rule
	// PhoneRegions are the ISO 3166 regions whose national formats phone numbers without a
	// country code are checked against; nil means DefaultPhoneRegions.
	PhoneRegions []string
	// SecretKeywords are added to DefaultSecretKeywords for the free-text secret rules.
	SecretKeywords []string
}

// DefaultSecretParams are the parameter names whose values are masked in free text and URLs.
var DefaultSecretParams = []string{
	"password", "passwd", "pwd", "pass", "secret", "client_secret", "token", "access_token",
	"refresh_token", "id_token", "auth_token", "api_token", "api_key", "apikey", "signature", "sig",
	"x_amz_signature", "x_amz_credential", "x_amz_security_token", "session_token", "sessionid",
	"session_id", "private_key", "authorization", "credentials", "aws_secret_access_key",
	"secret_access_key", "aws_secret_key",
}

// Scanner finds built-in and custom detector matches. It is safe for concurrent use.
type Scanner struct {
	on       [NumKinds]bool
	params   map[string]Kind
	rules    []Rule
	judge    phoneJudge
	keywords []string // extra free-text secret keywords, lower case
}

// New builds a Scanner.
func New(o Options) *Scanner {
	s := &Scanner{rules: o.Rules, params: map[string]Kind{}}
	if o.PhoneRegions != nil {
		s.judge = newPhoneJudge(o.PhoneRegions)
	} else {
		s.judge = newPhoneJudge(DefaultPhoneRegions)
	}
	for _, w := range o.SecretKeywords {
		s.keywords = append(s.keywords, strings.ToLower(w))
	}
	for k := range s.on {
		s.on[k] = true
	}
	for _, k := range o.Disabled {
		s.on[k] = false
	}
	ps := o.SecretParams
	if ps == nil {
		ps = DefaultSecretParams
	}
	for _, p := range ps {
		n := normParam(p)
		k := SecretParam
		if strings.Contains(n, "secret_access_key") || n == "aws_secret_key" {
			k = AWSSecretKey
		}
		s.params[n] = k
	}
	return s
}

func normParam(p string) string {
	b := []byte(strings.ToLower(p))
	for i, c := range b {
		if c == '-' || c == '.' {
			b[i] = '_'
		}
	}
	return string(b)
}

// Scan appends the matches in v to dst, sorted by Start and non-overlapping.
func (s *Scanner) Scan(v string, dst []Match) []Match {
	n := len(v)
	if n < 3 {
		return dst
	}
	base := len(dst)
	if (s.on[Email] || s.on[URLCredentials]) && strings.IndexByte(v, '@') >= 0 {
		dst = s.scanAt(v, dst)
	}
	claimedEnd := len(dst)
	ci := base
	unsorted := claimedEnd > base
	for i := 0; i < n; {
		if ci < claimedEnd && i >= dst[ci].Start {
			if dst[ci].End > i {
				i = dst[ci].End
			}
			ci++
			continue
		}
		c := v[i]
		if !isIdent(c) {
			end := i + 1
			switch c {
			case '+', '(':
				if i+1 < n && (isDigit(v[i+1]) || (v[i+1] == '(' && c == '+')) && (i == 0 || !isIdent(v[i-1])) {
					end, dst = s.numeric(v, i, dst)
				} else if c == '+' && s.on[AWSSecretKey] && (i == 0 || v[i-1] == ' ') && n-i >= awsSecretLen {
					if e := s.awsFreeSecret(v, i); e > 0 {
						dst = append(dst, Match{i, e, int(AWSSecretKey)})
						end = e
					}
				}
			case '-':
				if s.on[PrivateKey] && strings.HasPrefix(v[i:], "-----BEGIN") {
					if e := pemEnd(v, i); e > 0 {
						dst = append(dst, Match{i, e, int(PrivateKey)})
						end = e
					}
				}
			case '/':
				// A 40-character AWS secret may start with either: "… AKIA… /Q7i+Hgt…".
				if s.on[AWSSecretKey] && (i == 0 || v[i-1] == ' ' || v[i-1] == '\t') && n-i >= awsSecretLen {
					if e := s.awsFreeSecret(v, i); e > 0 {
						dst = append(dst, Match{i, e, int(AWSSecretKey)})
						end = e
					}
				}
			case ':':
				if s.on[IPv6] && i+1 < n && v[i+1] == ':' && (i == 0 || (!isIdent(v[i-1]) && v[i-1] != ':')) {
					if e := ipv6End(v, i); e > 0 {
						dst = append(dst, Match{i, e, int(IPv6)})
						end = e
					}
				}
			}
			if end <= i {
				end = i + 1
			}
			i = end
			continue
		}
		if i > 0 && isIdent(v[i-1]) {
			i++
			continue
		}
		j := i + 1
		for j < n && isIdent(v[j]) {
			j++
		}
		var end int
		end, dst = s.word(v, i, j, dst)
		if end <= i {
			end = j
		}
		i = end
	}
	if len(s.rules) > 0 {
		before := len(dst)
		dst = s.scanRules(v, dst)
		unsorted = unsorted || len(dst) > before
	}
	if unsorted {
		dst = sortDedupe(dst, base)
	}
	return dst
}

func (s *Scanner) scanRules(v string, dst []Match) []Match {
	for ri, r := range s.rules {
		if r.lit != "" && !strings.Contains(v, r.lit) {
			continue
		}
		for _, loc := range r.Re.FindAllStringIndex(v, -1) {
			if loc[1] == loc[0] {
				continue
			}
			if r.Valid != nil && !r.Valid(v[loc[0]:loc[1]]) {
				continue
			}
			dst = append(dst, Match{loc[0], loc[1], int(NumKinds) + ri})
		}
	}
	return dst
}

// sortDedupe sorts dst[base:] by start (longer first on ties) and drops overlapping matches,
// keeping the earlier one.
func sortDedupe(dst []Match, base int) []Match {
	m := dst[base:]
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && (m[j].Start < m[j-1].Start || (m[j].Start == m[j-1].Start && m[j].End > m[j-1].End)); j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
	out := m[:0]
	for _, x := range m {
		if len(out) > 0 && x.Start < out[len(out)-1].End {
			continue
		}
		out = append(out, x)
	}
	return dst[:base+len(out)]
}

// scanAt handles everything anchored on '@': emails and URL userinfo credentials.
func (s *Scanner) scanAt(v string, dst []Match) []Match {
	n := len(v)
	last := 0
	for off := 0; off < n; {
		a := strings.IndexByte(v[off:], '@')
		if a < 0 {
			break
		}
		a += off
		off = a + 1
		if a < last {
			continue
		}
		b := a
		for b > last && isUserinfo(v[b-1]) {
			b--
		}
		if b >= 3 && v[b-1] == '/' && v[b-2] == '/' && v[b-3] == ':' {
			if s.on[URLCredentials] {
				if c := strings.IndexByte(v[b:a], ':'); c >= 0 && b+c+1 < a {
					dst = append(dst, Match{b, a, int(URLCredentials)})
					last = a
				}
			}
			continue
		}
		if !s.on[Email] {
			continue
		}
		ls := a
		for ls > last && a-ls < 64 && isLocal(v[ls-1]) {
			ls--
		}
		for ls < a && (v[ls] == '.' || v[ls] == '-' || v[ls] == '+') {
			ls++
		}
		if ls == a || v[a-1] == '.' {
			continue
		}
		de, labels, tldStart := a+1, 0, a+1
		for {
			st := de
			for de < n && (isAlnum(v[de]) || v[de] == '-') {
				de++
			}
			if de == st || v[st] == '-' || v[de-1] == '-' {
				de = st
				if labels > 0 {
					de-- // give back the dot
				}
				break
			}
			labels++
			tldStart = st
			if de+1 < n && v[de] == '.' && isAlnum(v[de+1]) {
				de++
				continue
			}
			break
		}
		if labels < 2 || de-tldStart < 2 || de-tldStart > 24 || (de < n && (v[de] == '@' || v[de] == '_')) {
			continue
		}
		tldOK := true
		for k := tldStart; k < de; k++ {
			if !isAlpha(v[k]) {
				tldOK = false
				break
			}
		}
		if !tldOK {
			continue
		}
		dst = append(dst, Match{ls, de, int(Email)})
		last = de
	}
	return dst
}

func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isUserinfo(c byte) bool {
	switch c {
	case '/', ' ', '\t', '\n', '\r', '@', '"', '\'', '<', '>', '\\', '?', '#', '[', ']', '`', '{', '}', '|':
		return false
	}
	return c > ' '
}

// word examines the identifier word v[i:j] starting at i. It returns where scanning resumes.
func (s *Scanner) word(v string, i, j int, dst []Match) (int, []Match) {
	n := len(v)
	c := v[i]
	if s.on[IPv6] && j < n && v[j] == ':' && isHex(c) {
		if e := ipv6End(v, i); e > 0 {
			return e, append(dst, Match{i, e, int(IPv6)})
		}
	}
	if s.on[AWSSecretKey] && (j-i >= awsSecretLen || (j < n && (v[j] == '/' || v[j] == '+'))) {
		if e := s.awsFreeSecret(v, i); e > 0 {
			return e, append(dst, Match{i, e, int(AWSSecretKey)})
		}
	}
	if isDigit(c) {
		if numericStart(v, i) {
			return s.numeric(v, i, dst)
		}
		return j, dst
	}
	switch c {
	case 'g':
		if s.on[GitHubToken] {
			if j-i >= 4 && v[i+1] == 'h' && v[i+3] == '_' && strings.IndexByte("pousr", v[i+2]) >= 0 {
				if e := runOf(v, i+4, isAlnum); e-(i+4) >= 30 {
					return e, append(dst, Match{i, e, int(GitHubToken)})
				}
			}
			if strings.HasPrefix(v[i:], "github_pat_") {
				if e := runOf(v, i+11, isIdent); e-(i+11) >= 22 {
					return e, append(dst, Match{i, e, int(GitHubToken)})
				}
			}
		}
		if s.on[GitLabToken] {
			for _, p := range [...]string{"glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "gloas-"} {
				if strings.HasPrefix(v[i:], p) {
					if e := runOf(v, i+len(p), isTokenDash); e-(i+len(p)) >= 20 {
						return e, append(dst, Match{i, e, int(GitLabToken)})
					}
				}
			}
		}
	case 'x':
		if s.on[SlackToken] && n-i > 5 && (strings.HasPrefix(v[i:], "xox") && strings.IndexByte("abprse", v[i+3]) >= 0 && v[i+4] == '-' ||
			strings.HasPrefix(v[i:], "xapp-")) {
			if e := runOf(v, i+5, isTokenDash); e-(i+5) >= 10 {
				return e, append(dst, Match{i, e, int(SlackToken)})
			}
		}
	case 's', 'r':
		if s.on[StripeKey] && j-i > 8 && v[i+1] == 'k' && v[i+2] == '_' &&
			(strings.HasPrefix(v[i+3:], "live_") || strings.HasPrefix(v[i+3:], "test_")) {
			if e := runOf(v, i+8, isAlnum); e-(i+8) >= 16 {
				return e, append(dst, Match{i, e, int(StripeKey)})
			}
		}
	case 'e':
		if s.on[JWT] && strings.HasPrefix(v[i:], "eyJ") {
			if e := jwtEnd(v, i); e > 0 {
				return e, append(dst, Match{i, e, int(JWT)})
			}
		}
	case 'A':
		if s.on[AWSAccessKey] && j-i == 20 && awsKeyPrefix(v[i:i+4]) {
			ok := true
			for k := i + 4; k < j; k++ {
				if !isUpper(v[k]) && !isDigit(v[k]) {
					ok = false
					break
				}
			}
			if ok {
				return j, append(dst, Match{i, j, int(AWSAccessKey)})
			}
		}
	}
	if isAlpha(c) && s.on[IBAN] && j-i >= 4 && isAlpha(v[i+1]) && isDigit(v[i+2]) && isDigit(v[i+3]) {
		if e := ibanEnd(v, i); e > 0 {
			return e, append(dst, Match{i, e, int(IBAN)})
		}
	}
	if s.on[AuthHeader] && (j-i == 6 || j-i == 5) && j+1 < n && v[j] == ' ' {
		w := v[i:j]
		bearer := strings.EqualFold(w, "bearer")
		if bearer || strings.EqualFold(w, "basic") {
			ts := j
			for ts < n && v[ts] == ' ' {
				ts++
			}
			te := runOf(v, ts, isAuthTok)
			tok := v[ts:te]
			if (bearer && len(tok) >= 8 && strings.ContainsAny(tok, "0123456789._-+/=~")) || (!bearer && validBasic(tok)) {
				return te, append(dst, Match{ts, te, int(AuthHeader)})
			}
		}
	}
	if s.on[SecretParam] || s.on[AWSSecretKey] {
		if e, m, ok := s.param(v, i, j); ok {
			return e, append(dst, m)
		}
	}
	if s.on[SecretKeyword] || s.on[SecretEntropy] || s.on[AWSSecretKey] {
		if ke := s.keywordEnd(v, i, j); ke > 0 {
			if m, ok := s.secretAfterKeyword(v, i, ke); ok {
				return m.End, append(dst, m)
			}
		}
	}
	return j, dst
}

func awsKeyPrefix(p string) bool {
	switch p {
	case "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "ABIA", "ACCA":
		return true
	}
	return false
}

func isTokenDash(c byte) bool { return isIdent(c) || c == '-' }

func isAuthTok(c byte) bool {
	return isAlnum(c) || strings.IndexByte("._~+/=-", c) >= 0
}

func runOf(v string, i int, f func(byte) bool) int {
	for i < len(v) && f(v[i]) {
		i++
	}
	return i
}

// param matches name=value, ?name=value&… and "name":"value" where name is a secret parameter
// (or ends in _<secret parameter>). Only the value is reported.
func (s *Scanner) param(v string, i, j int) (int, Match, bool) {
	n := len(v)
	k := j
	for k < n && (isIdent(v[k]) || v[k] == '-' || v[k] == '.') {
		k++
	}
	if k >= n-1 || k-i > 64 {
		return 0, Match{}, false
	}
	var vs int
	quotedJSON := false
	switch {
	case v[k] == '=' && v[k+1] != '=':
		vs = k + 1
	case v[k] == '"' && i > 0 && v[i-1] == '"' && v[k+1] == ':':
		vs = k + 2
		for vs < n && v[vs] == ' ' {
			vs++
		}
		quotedJSON = true
	default:
		return 0, Match{}, false
	}
	kind, ok := s.paramKind(v[i:k])
	if !ok || !s.on[kind] {
		return 0, Match{}, false
	}
	ve := vs
	if vs < n && v[vs] == '"' {
		vs++
		ve = vs
		for ve < n && v[ve] != '"' {
			if v[ve] == '\\' {
				ve++
			}
			ve++
		}
		if ve > n {
			ve = n
		}
	} else {
		// Outside a query string "&" and "#" belong to the value: DB_PASSWORD=monkey&93.
		inQuery := i > 0 && (v[i-1] == '?' || v[i-1] == '&')
		for ve < n && !paramStop(v[ve], quotedJSON, inQuery) {
			ve++
		}
	}
	if ve == vs || placeholder(v[vs:ve]) {
		return 0, Match{}, false
	}
	if kind == AWSSecretKey && ve-vs != 40 {
		kind = SecretParam
		if !s.on[kind] {
			return 0, Match{}, false
		}
	}
	return ve, Match{vs, ve, int(kind)}, true
}

func paramStop(c byte, json, inQuery bool) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', ';', ')', ']', '}', '>', '<', ',':
		return true
	case '&', '#':
		return inQuery || json
	}
	return false
}

func (s *Scanner) paramKind(name string) (Kind, bool) {
	var buf [64]byte
	b := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isUpper(c):
			c += 'a' - 'A'
		case c == '-' || c == '.':
			c = '_'
		}
		b = append(b, c)
	}
	if k, ok := s.params[string(b)]; ok {
		return k, true
	}
	for x := 0; x < len(b); x++ {
		if b[x] == '_' {
			if k, ok := s.params[string(b[x+1:])]; ok {
				return k, true
			}
		}
	}
	return 0, false
}

// ibanEnd returns the end of an IBAN starting at i, in either letter case, compact or in
// groups of four, or 0.
func ibanEnd(v string, i int) int {
	cc := [2]byte{v[i] &^ 0x20, v[i+1] &^ 0x20} // upper-case ASCII letters
	want := ibanLengths[string(cc[:])]
	if want == 0 {
		return 0
	}
	n := len(v)
	k, got, group := i, 0, 0
	for k < n && got < want {
		c := v[k]
		if isAlnum(c) {
			got++
			group++
			k++
			continue
		}
		if c == ' ' && group == 4 && k+1 < n && isAlnum(v[k+1]) {
			group = 0
			k++
			continue
		}
		break
	}
	if got != want || (k < n && isIdent(v[k])) {
		return 0
	}
	if !ValidIBAN(v[i:k]) {
		return 0
	}
	return k
}

func jwtEnd(v string, i int) int {
	isB64 := func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }
	e1 := runOf(v, i, isB64)
	if e1-i < 10 || e1 >= len(v) || v[e1] != '.' {
		return 0
	}
	e2 := runOf(v, e1+1, isB64)
	if e2-e1-1 < 10 || e2 >= len(v) || v[e2] != '.' {
		return 0
	}
	return runOf(v, e2+1, isB64)
}

// pemEnd returns the end of a PEM private key block starting at i, or 0 when the block is not a
// private key. A block without its END line is masked to the end of the value.
func pemEnd(v string, i int) int {
	head := v[i+10:]
	close := strings.Index(head, "-----")
	if close < 0 || close > 64 || !strings.Contains(head[:close], "PRIVATE KEY") {
		return 0
	}
	rest := i + 10 + close + 5
	e := strings.Index(v[rest:], "-----END")
	if e < 0 {
		return len(v)
	}
	e += rest + 8
	c := strings.Index(v[e:], "-----")
	if c < 0 || c > 64 {
		return len(v)
	}
	return e + c + 5
}

// ipv6End returns the end of a valid IPv6 address starting at i, or 0.
func ipv6End(v string, i int) int {
	n := len(v)
	k, colons := i, 0
	for k < n && (isHex(v[k]) || v[k] == ':' || v[k] == '.') {
		if v[k] == ':' {
			colons++
		}
		k++
	}
	for k > i && (v[k-1] == '.' || (v[k-1] == ':' && k-2 >= i && v[k-2] != ':')) {
		if v[k-1] == ':' {
			colons--
		}
		k--
	}
	if colons < 2 || k-i < 3 || (k < n && isIdent(v[k])) {
		return 0
	}
	// Without "::" an address has 7 colons (6 before an embedded IPv4): times such as
	// 10:30:00 stop here instead of costing netip an error allocation.
	if colons < 6 && !strings.Contains(v[i:k], "::") {
		return 0
	}
	if !ValidIPv6(v[i:k]) {
		return 0
	}
	return k
}

// numericStart decides whether a digit at i may begin a number we care about: not inside a
// word, decimal, version, time or hyphenated id.
func numericStart(v string, i int) bool {
	if i == 0 {
		return true
	}
	p := v[i-1]
	switch {
	case isIdent(p), p == '.', p == ',':
		return false
	case p == '-':
		return i < 2 || !isAlnum(v[i-2])
	case p == ':':
		return i < 2 || isAlpha(v[i-2]) || v[i-2] == ' ' || v[i-2] == '"'
	}
	return true
}
