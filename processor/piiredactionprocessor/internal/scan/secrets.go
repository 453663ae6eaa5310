package scan

import (
	"math"
	"strings"
)

// DefaultSecretKeywords introduce a secret in free text ("password is hunter2", "api key:
// abc123", "token=…" inside prose). A word matches when it equals a keyword or ends with one
// ("db_password", "accessToken", "client-secret"); "api key", "access key", "private key" and
// "secret key" also match as two words.
var DefaultSecretKeywords = []string{
	"password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "accesskey",
	"access_key", "privatekey", "private_key", "secretkey", "secret_key",
}

// secretSuffixes may end a longer word: "dbpassword", "accesstoken", "clientsecret".
var secretSuffixes = []string{"password", "passwd", "secret", "token"}

// twoWordFirst are first words of "<word> key" keywords.
var twoWordFirst = []string{"api", "access", "private", "secret"}

// secretStopWords are values that follow a keyword in prose without being one: "password is
// required", "token: expired", "secret=true".
var secretStopWords = []string{
	"is", "was", "are", "were", "be", "been", "being", "has", "have", "had", "will", "would",
	"must", "should", "can", "cannot", "could", "may", "might", "not", "no", "yes", "true",
	"false", "null", "nil", "none", "empty", "blank", "missing", "required", "invalid",
	"incorrect", "wrong", "expired", "expires", "expiring", "revoked", "rotated", "rotation",
	"reset", "changed", "change", "updated", "update", "set", "unset", "valid", "ok", "correct",
	"redacted", "hidden", "masked", "removed", "provided", "found", "accepted", "rejected",
	"refresh", "refreshed", "request", "requested", "error", "failed", "failure", "mismatch",
	"verification", "verified", "policy", "manager", "store", "length", "too", "for", "of",
	"to", "the", "a", "an", "and", "or", "in", "on", "at", "with", "from", "by", "via", "into",
	"still", "already", "now", "again", "once", "unchanged", "matches", "match", "generated",
	"issued", "created", "deleted", "stored", "saved", "loaded", "used", "unknown", "type",
	"undefined", "supplied", "present", "absent", "weak", "strong", "short", "long", "ttl",
	"lifetime", "scope", "scopes", "bucket", "count", "limit", "file", "path", "env",
	"bearer", "basic", // the scheme: the credential after it is auth_header's
}

const (
	maxSecretValue   = 256
	minEntropyLen    = 20
	minEntropyBits   = 3.5 // Shannon bits per character, gitleaks' generic-rule threshold
	entropyLookahead = 48  // bytes after the keyword that the entropy rule looks into
	awsSecretLen     = 40
	awsIDWindow      = 120 // bytes around a 40-char candidate that may hold its access key id
)

// keywordEnd returns the end of a secret keyword that starts with the word v[i:j], or 0.
func (s *Scanner) keywordEnd(v string, i, j int) int {
	w := v[i:j]
	if len(w) < 2 || len(w) > 40 {
		return 0
	}
	if len(s.keywords) > 0 {
		if e := s.configuredKeywordEnd(v, i, j); e > 0 {
			return e
		}
	}
	// Every built-in keyword and suffix ends in d, e, n, t or y; most words do not get further.
	switch w[len(w)-1] | 0x20 {
	case 'd', 'e', 'n', 't', 'y':
		if len(w) >= 5 {
			if inFold(DefaultSecretKeywords, w) {
				return j
			}
			for _, suf := range secretSuffixes {
				if len(w) > len(suf) && strings.EqualFold(w[len(w)-len(suf):], suf) {
					return j
				}
			}
		}
	}
	if j+4 <= len(v) && (v[j] == ' ' || v[j] == '-') && v[j+1]|0x20 == 'k' && inFold(twoWordFirst, w) &&
		strings.EqualFold(v[j+1:j+4], "key") && (j+4 == len(v) || !isIdent(v[j+4])) {
		return j + 4
	}
	return 0
}

// configuredKeywordEnd matches the configured keywords, one word or two ("pin code", across
// one space or dash).
func (s *Scanner) configuredKeywordEnd(v string, i, j int) int {
	w := v[i:j]
	for _, kw := range s.keywords {
		if len(kw) > len(w) && (kw[len(w)] == ' ' || kw[len(w)] == '-') && strings.EqualFold(kw[:len(w)], w) &&
			j+len(kw)-len(w) <= len(v) && (v[j] == ' ' || v[j] == '-') && strings.EqualFold(v[j+1:j+len(kw)-len(w)], kw[len(w)+1:]) {
			if e := j + len(kw) - len(w); e == len(v) || !isIdent(v[e]) {
				return e
			}
		}
	}
	for _, kw := range s.keywords {
		if len(kw) == len(w) && strings.EqualFold(kw, w) {
			return j
		}
	}
	return 0
}

// secretAfterKeyword applies the keyword, high-entropy and AWS rules to the text after a
// keyword that starts at kwStart and ends at ke.
func (s *Scanner) secretAfterKeyword(v string, kwStart, ke int) (Match, bool) {
	if s.on[SecretKeyword] {
		vs, ve, strong, ok := keywordValue(v, ke)
		if !ok || !valueLooksSecret(v[vs:ve], strong) {
			// "the secret for the db is …", "password for bob: …": a few words, then the value.
			if ge := gapEnd(v, ke); ge > ke {
				// Words in between make it prose: hold the value to the stricter test.
				vs, ve, _, ok = keywordValue(v, ge)
				strong = false
			}
		}
		if ok && valueLooksSecret(v[vs:ve], strong) {
			if s.otherDetectorClaims(v[vs:ve]) {
				return Match{}, false
			}
			def := SecretKeyword
			if k, isParam := s.paramKind(v[kwStart:ke]); isParam && strong && s.on[k] {
				def = k // "api_key: …" is the same secret as "api_key=…"
			}
			return Match{vs, ve, int(s.secretKind(v, kwStart, vs, ve, def))}, true
		}
	}
	if s.on[SecretEntropy] || s.on[AWSSecretKey] {
		if vs, ve, ok := s.entropyToken(v, ke); ok && !s.otherDetectorClaims(v[vs:ve]) {
			k := s.secretKind(v, kwStart, vs, ve, SecretEntropy)
			if s.on[k] {
				return Match{vs, ve, int(k)}, true
			}
		}
	}
	return Match{}, false
}

// secretKind labels a value found after a keyword: an AWS secret access key when it has that
// shape and the keyword says secret (or an access key id is near), else def.
func (s *Scanner) secretKind(v string, kwStart, vs, ve int, def Kind) Kind {
	if s.on[AWSSecretKey] && awsSecretShape(v[vs:ve]) &&
		(containsFold(v[kwStart:vs], "secret") || awsIDNear(v, vs, ve)) {
		return AWSSecretKey
	}
	return def
}

// otherDetectorClaims reports values a dedicated detector labels better (an AWS access key
// id after "access key", a GitHub token after "token"): the keyword rules leave them to it.
func (s *Scanner) otherDetectorClaims(val string) bool {
	if len(val) < 3 || !isAlnum(val[0]) {
		return false
	}
	j := runOf(val, 0, isIdent)
	_, ms := s.word(val, 0, j, nil)
	for _, m := range ms {
		if m.Start == 0 && m.End == len(val) && m.Det != int(SecretKeyword) && m.Det != int(SecretEntropy) {
			return true
		}
	}
	return false
}

// keywordValue finds the value after a keyword ending at ke: "is"/"was", ":", "=", ":=", "=>"
// or whitespace, then a quoted string or a run up to whitespace or closing punctuation.
// strong is false when only whitespace or "is" separates them.
func keywordValue(v string, ke int) (vs, ve int, strong, ok bool) {
	n := len(v)
	k := ke
	// A closing quote of a quoted keyword: 'the "password" is …'.
	if k < n && (v[k] == '"' || v[k] == '\'') {
		k++
	}
	sp := k
	for k < n && k-sp < 3 && (v[k] == ' ' || v[k] == '\t') {
		k++
	}
	switch {
	case k < n && (v[k] == ':' || v[k] == '='):
		if k+1 < n && (v[k+1] == '=' && v[k] == '=') {
			return 0, 0, false, false // comparison: token == nil
		}
		k++
		if k < n && (v[k] == '=' || v[k] == '>') {
			k++
		}
		strong = true
	case k > sp && hasPrefixFold(v[k:], "is "):
		k += 3
	case k > sp && hasPrefixFold(v[k:], "was "):
		k += 4
	case k > sp && hasPrefixFold(v[k:], "to "):
		k += 3
	case k > sp:
	default:
		return 0, 0, false, false
	}
	for k < n && k-ke < 8 && (v[k] == ' ' || v[k] == '\t') {
		k++
	}
	if k >= n {
		return 0, 0, false, false
	}
	if q := v[k]; q == '"' || q == '\'' || q == '`' {
		e := strings.IndexByte(v[k+1:min(n, k+1+maxSecretValue)], q)
		if e <= 0 {
			return 0, 0, false, false
		}
		return k + 1, k + 1 + e, true, true
	}
	vs = k
	for k < n && k-vs < maxSecretValue && !valueStop(v[k]) {
		k++
	}
	for k > vs && strings.IndexByte(".,:;!?", v[k-1]) >= 0 {
		k--
	}
	if k == vs {
		return 0, 0, false, false
	}
	return vs, k, strong, true
}

// maxKeywordGap bounds the words between a keyword and its operator (gitleaks' generic rule
// allows 25 characters there too).
const maxKeywordGap = 25

// gapEnd returns the end of up to maxKeywordGap bytes of letters, spaces, '_', '.' and '-'
// after ke that are followed by ":", "=", " is ", " was " or " to ", or ke when there are none.
func gapEnd(v string, ke int) int {
	n := len(v)
	lim := min(n, ke+maxKeywordGap)
	for k := ke + 1; k < lim; k++ {
		c := v[k]
		if c == ':' || c == '=' {
			return k
		}
		if c == ' ' && k > ke+1 && k+1 < n {
			rest := v[k+1:]
			if hasPrefixFold(rest, "is ") || hasPrefixFold(rest, "was ") || hasPrefixFold(rest, "to ") {
				return k
			}
		}
		if !isAlpha(c) && c != ' ' && c != '_' && c != '.' && c != '-' && c != '\'' {
			return ke
		}
	}
	return ke
}

func valueStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', ',', ';', ')', ']', '}', '>', '<':
		return true
	}
	return false
}

// valueLooksSecret rejects prose and placeholders. After ":" or "=" any value that is not a
// stop word or a placeholder counts; after whitespace or "is" the value must also carry a
// digit or a symbol and be at least 6 characters, as passwords and tokens do and words do not.
func valueLooksSecret(val string, strong bool) bool {
	if len(val) == 0 || inFold(secretStopWords, val) {
		return false
	}
	if placeholder(val) {
		return false
	}
	var digit, symbol, letter, lower, innerUpper bool
	for i := 0; i < len(val); i++ {
		c := val[i]
		switch {
		case isDigit(c):
			digit = true
		case isLower(c):
			letter, lower = true, true
		case isUpper(c):
			letter = true
			innerUpper = innerUpper || i > 0
		default:
			symbol = true
		}
	}
	if strong {
		return len(val) >= 3 && (digit || symbol || len(val) >= 6)
	}
	// Words are lower case or capitalised; "hunter2", "Tr0ub4dor&3" and "xKqLmWvTz" are not.
	mixed := digit || symbol || (lower && innerUpper)
	return len(val) >= 6 && mixed && (letter || len(val) >= 8) && !numberLike(val)
}

// placeholder matches values that stand for a secret without being one: [REDACTED:…],
// <redacted>, ****, ${ENV}, {{ .Token }}, %s.
func placeholder(val string) bool {
	switch val[0] {
	case '[', '<', '*', '$', '{', '%', '(':
		return true
	}
	return strings.HasPrefix(val, "REDACTED") || strings.Trim(val, "*x#.-") == ""
}

// numberLike matches values that are quantities or dates, not secrets: 1500ms, 2024-01-15,
// 3.5s, 10:30:00.
func numberLike(val string) bool {
	d := 0
	for i := 0; i < len(val); i++ {
		c := val[i]
		if isDigit(c) {
			d++
		} else if !strings.ContainsRune("-.:/,+", rune(c)) {
			// a unit suffix ("ms", "s", "kb") after digits
			rest := val[i:]
			return d > 0 && len(rest) <= 3 && isAlpha(rest[0]) && d == i
		}
	}
	return true
}

// entropyToken finds the first token of minEntropyLen+ characters, mixing letters and digits,
// with at least minEntropyBits of Shannon entropy per character, starting within
// entropyLookahead bytes after ke. It stops at a token another detector claims, so that
// "access key AKIA… and secret …" leaves the key id to its own detector.
func (s *Scanner) entropyToken(v string, ke int) (int, int, bool) {
	n := len(v)
	lim := min(n, ke+entropyLookahead)
	for k := ke; k < lim; {
		if !isTokenChar(v[k]) {
			k++
			continue
		}
		e := k
		for e < n && e-k <= maxSecretValue && isTokenChar(v[e]) {
			e++
		}
		t := e
		for t > k && (v[t-1] == '.' || v[t-1] == '-') {
			t--
		}
		if t-k >= minEntropyLen && mixesLettersDigits(v[k:t]) && !hexOrUUID(v[k:t]) && shannon(v[k:t]) >= minEntropyBits {
			return k, t, true
		}
		if t-k >= 8 && s.otherDetectorClaims(v[k:t]) {
			return 0, 0, false
		}
		k = e
	}
	return 0, 0, false
}

// hexOrUUID matches hashes, trace ids and UUIDs: ids, not secrets, when no separator ties them
// to the keyword.
func hexOrUUID(t string) bool {
	for i := 0; i < len(t); i++ {
		if !isHex(t[i]) && t[i] != '-' {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.' || c == '~'
}

func mixesLettersDigits(t string) bool {
	var l, d bool
	for i := 0; i < len(t); i++ {
		if isDigit(t[i]) {
			d = true
		} else if isAlpha(t[i]) {
			l = true
		}
	}
	return l && d
}

// shannon returns the Shannon entropy of t in bits per byte.
func shannon(t string) float64 {
	var counts [256]uint16
	for i := 0; i < len(t); i++ {
		counts[t[i]]++
	}
	h, n := 0.0, float64(len(t))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// awsSecretShape: 40 characters of base64 alphabet with upper and lower case letters, so a
// 40-hex git SHA-1 never qualifies.
func awsSecretShape(t string) bool {
	if len(t) != awsSecretLen {
		return false
	}
	var up, low bool
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case isUpper(c):
			up = true
		case isLower(c):
			low = true
		case isDigit(c), c == '/', c == '+':
		default:
			return false
		}
	}
	return up && low
}

// awsIDNear reports an AWS access key id within awsIDWindow bytes before vs or after ve.
func awsIDNear(v string, vs, ve int) bool {
	lo, hi := max(0, vs-awsIDWindow), min(len(v), ve+awsIDWindow)
	for _, w := range [2]string{v[lo:vs], v[ve:hi]} {
		for off := 0; ; {
			a := strings.IndexByte(w[off:], 'A')
			if a < 0 {
				break
			}
			a += off
			if a+20 <= len(w) && awsKeyPrefix(w[a:a+4]) && (a+20 == len(w) || !isAlnum(w[a+20])) && (a == 0 || !isAlnum(w[a-1])) {
				ok := true
				for k := a + 4; k < a+20; k++ {
					if !isUpper(w[k]) && !isDigit(w[k]) {
						ok = false
						break
					}
				}
				if ok {
					return true
				}
			}
			off = a + 1
		}
	}
	return false
}

// awsFreeSecret matches a free-standing 40-character AWS secret access key at i next to an
// access key id or the word "secret" (within the keyword window before it).
func (s *Scanner) awsFreeSecret(v string, i int) int {
	if i > 0 && (v[i-1] == '/' || v[i-1] == '+' || v[i-1] == '=') {
		return 0
	}
	e := i
	for e < len(v) && e-i <= awsSecretLen && (isAlnum(v[e]) || v[e] == '/' || v[e] == '+') {
		e++
	}
	if e-i != awsSecretLen || (e < len(v) && (isIdent(v[e]) || v[e] == '=')) || !awsSecretShape(v[i:e]) {
		return 0
	}
	if containsFold(v[max(0, i-entropyLookahead):i], "secret") || awsIDNear(v, i, e) {
		return e
	}
	return 0
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
