package scan

const maxGroups = 24

// group is one run of digits inside a number-like token: [s,e) spans the group including any
// parentheses, [ds,de) only the digits. sep is the separator before it (0 for the first).
type group struct {
	s, e, ds, de int
	sep          byte
	paren        bool
}

// numeric parses a number-like token at i (a digit, '+' or '(') made of digit groups joined by
// single spaces, dashes or dots, and classifies its sub-spans. Sub-spans may only start and end
// at space separators, so "4111 1111 1111 1111 555-123-4567" yields two matches while a dashed
// or dotted token (dates, UUID parts, versions) is judged as a whole.
func (s *Scanner) numeric(v string, i int, dst []Match) (int, []Match) {
	n := len(v)
	var gs [maxGroups]group
	ng := 0
	plus := v[i] == '+'
	j := i
	if plus {
		j++
	}
	var sep byte
	for ng < maxGroups {
		gs0 := j
		paren := false
		if j < n && v[j] == '(' {
			paren = true
			j++
		}
		ds := j
		for j < n && isDigit(v[j]) {
			j++
		}
		de := j
		if de == ds || (paren && (j >= n || v[j] != ')')) {
			break
		}
		if paren {
			j++
		}
		gs[ng] = group{s: gs0, e: j, ds: ds, de: de, sep: sep, paren: paren}
		ng++
		if j+1 < n {
			c := v[j]
			if (c == ' ' || c == '-' || c == '.') && (isDigit(v[j+1]) || (v[j+1] == '(' && c == ' ')) {
				sep = c
				j++
				continue
			}
			if paren && isDigit(c) {
				sep = ')'
				continue
			}
			if c == '(' && j+2 < n && isDigit(v[j+1]) && plus {
				// +44(0)20 7946 0958: the trunk prefix in parentheses right after the country code.
				sep = '('
				continue
			}
		}
		break
	}
	if ng == 0 {
		return i + 1, dst
	}
	runEnd := gs[ng-1].e
	endOK := runEnd == n || !(isIdent(v[runEnd]) || (v[runEnd] == '-' && runEnd+1 < n && isAlnum(v[runEnd+1])))
	// "555-201-7788x123": the glued extension may end a phone number, nothing else.
	extGlued := !endOK && s.on[Phone] && extensionEnd(v, runEnd) > runEnd
	matched := false
	matchEnd := 0
	for g := 0; g < ng; {
		if g > 0 && gs[g].sep != ' ' {
			g++
			continue
		}
		hit := false
		hmax := min(ng, g+8)
		for h := hmax; h > g; h-- {
			if h < ng && gs[h].sep != ' ' {
				continue
			}
			last := h == ng
			if last && !endOK && !extGlued {
				continue
			}
			st := gs[g].s
			if g == 0 {
				st = i
			}
			k, e, ok := s.classify(v, gs[g:h], plus && g == 0, st, !last || endOK)
			if !ok {
				continue
			}
			dst = append(dst, Match{st, e, int(k)})
			hit, matched = true, true
			matchEnd = e
			g = h
			break
		}
		if !hit {
			g++
		}
	}
	if !matched && v[i] == '(' {
		// "(4111…)": let the digits be examined on their own.
		return i + 1, dst
	}
	if !endOK {
		// Skip the rest of the word glued to the token ("1500ms", "12abc").
		for runEnd < n && isIdent(v[runEnd]) {
			runEnd++
		}
	}
	return max(runEnd, matchEnd), dst
}

// classify decides what the groups gs, starting at start, are and where the match ends (a
// phone number's extension belongs to it). plus means the token starts with '+'. endOK is
// false when letters are glued to the last group: only a phone extension may follow then.
func (s *Scanner) classify(v string, gs []group, plus bool, start int, endOK bool) (Kind, int, bool) {
	k := len(gs)
	end := gs[k-1].e
	d := 0
	var hasSpace, hasDash, hasDot, hasParen bool
	for x, g := range gs {
		d += g.de - g.ds
		if g.paren || g.sep == ')' {
			hasParen = true
		}
		if x > 0 {
			switch g.sep {
			case ' ':
				hasSpace = true
			case '-':
				hasDash = true
			case '.':
				hasDot = true
			}
		}
	}
	phone := func() (Kind, int, bool) {
		if !s.on[Phone] {
			return 0, 0, false
		}
		if e, ok := s.phone(v, gs, start, plus, endOK); ok {
			return Phone, e, true
		}
		return 0, 0, false
	}
	if plus || !endOK || (gs[0].de-gs[0].ds >= 2 && v[gs[0].ds] == '0' && v[gs[0].ds+1] == '0') {
		// +44 …, 0044 …, 001-…: an international number or nothing.
		return phone()
	}
	if hasDot {
		if hasSpace || hasDash || hasParen {
			return 0, 0, false
		}
		if k == 4 {
			return IPv4, end, s.on[IPv4] && ValidIPv4(v[gs[0].s:gs[3].e])
		}
		return phone()
	}
	if k == 3 && !hasParen && gs[0].de-gs[0].ds == 3 && gs[1].de-gs[1].ds == 2 && gs[2].de-gs[2].ds == 4 && gs[1].sep == gs[2].sep {
		// SSN-shaped: an invalid SSN is nothing else either.
		return SSN, end, s.on[SSN] && ValidSSN(v[gs[0].s:gs[2].e])
	}
	if d >= minCardDigits && d <= maxCardDigits && s.on[CreditCard] && !hasParen && !(hasSpace && hasDash) && cardGrouping(gs) {
		if ValidCard(v[gs[0].s:end]) && (d > minCardDigits || k > 1 || cardContext(v, start)) {
			return CreditCard, end, true
		}
	}
	if d > maxNationalDigits {
		return 0, 0, false
	}
	return phone()
}

// cardGrouping accepts one run of digits or groups as cards are printed: 4-4-4-4, 4-6-5 (Amex),
// 4-6-4 (Diners), 4-4-4-4-3, and 19-digit numbers whose tail is left whole (4-4-4-7, 4-6-9):
// groups of 3–6, the first at least 4, the last 1–9.
func cardGrouping(gs []group) bool {
	if len(gs) == 1 {
		return true
	}
	last := len(gs) - 1
	for x, g := range gs {
		l := g.de - g.ds
		switch {
		case x == 0 && (l < 4 || l > 6):
			return false
		case x == last && x > 0 && l > 9:
			return false
		case x > 0 && x < last && (l < 3 || l > 6):
			return false
		}
	}
	return true
}

// cardContextWords let a bare 12-digit number (Maestro's shortest) count as a card;
// cardFillerWords may stand between them and the number ("card number is …").
var (
	cardContextWords = []string{
		"card", "cards", "cc", "pan", "visa", "mastercard", "maestro", "amex", "jcb", "diners",
		"discover", "unionpay", "mir", "credit", "debit", "paid", "payment", "charged", "charge",
	}
	cardFillerWords = []string{"number", "no", "with", "using", "via", "on", "the", "ending", "is", "was", "a"}
)

// cardContext reports whether a card word is among the three words before start.
func cardContext(v string, start int) bool {
	lo := max(0, start-contextWindow)
	for e, words := start, 0; e > lo && words < 3; words++ {
		for e > lo && !isAlpha(v[e-1]) {
			if isDigit(v[e-1]) {
				return false
			}
			e--
		}
		b := e
		for b > lo && isAlpha(v[b-1]) {
			b--
		}
		if b == e {
			return false
		}
		w := v[b:e]
		if inFold(cardContextWords, w) {
			return true
		}
		if !inFold(cardFillerWords, w) {
			return false
		}
		e = b
	}
	return false
}

// isNANP matches the [1 ](XXX) XXX XXXX and 1-XXX-XXX-XXXX shapes.
func isNANP(v string, gs []group) bool {
	if len(gs) == 4 {
		if gs[0].de-gs[0].ds != 1 || v[gs[0].ds] != '1' {
			return false
		}
		gs = gs[1:]
	}
	if len(gs) != 3 {
		return false
	}
	l0, l1, l2 := gs[0].de-gs[0].ds, gs[1].de-gs[1].ds, gs[2].de-gs[2].ds
	if l0 != 3 || l1 != 3 || l2 != 4 || gs[1].paren || gs[2].paren {
		return false
	}
	return true
}
