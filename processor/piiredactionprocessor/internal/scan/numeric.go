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
		}
		break
	}
	if ng == 0 {
		return i + 1, dst
	}
	runEnd := gs[ng-1].e
	endOK := runEnd == n || !(isIdent(v[runEnd]) || (v[runEnd] == '-' && runEnd+1 < n && isAlnum(v[runEnd+1])))
	matched := false
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
			if h == ng && !endOK {
				continue
			}
			k, ok := s.classify(v, gs[g:h], plus && g == 0)
			if !ok {
				continue
			}
			st := gs[g].s
			if g == 0 {
				st = i
			}
			dst = append(dst, Match{st, gs[h-1].e, int(k)})
			hit, matched = true, true
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
	return runEnd, dst
}

// classify decides what the groups gs are. plus means the token starts with '+'.
func (s *Scanner) classify(v string, gs []group, plus bool) (Kind, bool) {
	k := len(gs)
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
	first := v[gs[0].ds]
	if plus {
		if !s.on[Phone] || d < 8 || d > 15 || first == '0' {
			return 0, false
		}
		for _, g := range gs[1:] {
			if g.de-g.ds > 8 {
				return 0, false
			}
		}
		return Phone, true
	}
	if hasDot {
		if hasSpace || hasDash || hasParen {
			return 0, false
		}
		if k == 4 {
			return IPv4, s.on[IPv4] && ValidIPv4(v[gs[0].s:gs[3].e])
		}
		if s.on[Phone] && (isNANP(v, gs) || isTrunk(v, gs, d)) {
			return Phone, true
		}
		return 0, false
	}
	if k == 3 && !hasParen && gs[0].de-gs[0].ds == 3 && gs[1].de-gs[1].ds == 2 && gs[2].de-gs[2].ds == 4 && gs[1].sep == gs[2].sep {
		// SSN-shaped: an invalid SSN is nothing else either.
		return SSN, s.on[SSN] && ValidSSN(v[gs[0].s:gs[2].e])
	}
	if d >= 13 {
		if !s.on[CreditCard] || hasParen || d > 19 || (hasSpace && hasDash) {
			return 0, false
		}
		if k > 1 {
			for x, g := range gs {
				l := g.de - g.ds
				if l > 6 || (l < 3 && x < k-1) || (x == 0 && l < 4) {
					return 0, false
				}
			}
		}
		return CreditCard, ValidCard(v[gs[0].s:gs[k-1].e])
	}
	if !s.on[Phone] || k < 2 {
		return 0, false
	}
	if isNANP(v, gs) || isTrunk(v, gs, d) {
		return Phone, true
	}
	return 0, false
}

// isNANP matches [1 ](NXX) NXX XXXX and 1-NXX-NXX-XXXX shapes with a valid area code.
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
	a := v[gs[0].ds]
	return a >= '2' && a <= '9'
}

// isTrunk matches national numbers with a trunk prefix 0 (020 7946 0958, 06 12 34 56 78,
// 0151 12345678).
func isTrunk(v string, gs []group, d int) bool {
	if d < 9 || d > 11 || v[gs[0].ds] != '0' || v[gs[0].ds+1] == '0' {
		return false
	}
	if len(gs) == 2 {
		l0, l1 := gs[0].de-gs[0].ds, gs[1].de-gs[1].ds
		return l0 >= 3 && l0 <= 5 && l1 >= 6 && l1 <= 8
	}
	for _, g := range gs {
		if l := g.de - g.ds; l < 2 || l > 4 {
			return false
		}
	}
	return true
}
