package logfilter // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"

import (
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"
)

// nesting is the deepest bracket nesting of an OTTL condition outside string literals. It
// runs before the parser, in one pass, so a hostile condition is refused in linear time.
func nesting(s string) int {
	depth, deepest := 0, 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '(', '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ')', ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return deepest
}

// patternFuncs are the standard OTTL converters whose string arguments are regular
// expressions.
var patternFuncs = map[string]bool{"IsMatch": true, "ExtractPatterns": true, "ExtractGrokPatterns": true}

// checkPatterns refuses a string literal passed to a pattern function when its compiled
// program exceeds maxInsts instructions.
func checkPatterns(s string, maxInsts int) error {
	// calls holds, per open bracket, the function it opened (or "").
	var calls []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil // unterminated: the parser reports it
			}
			lit := s[i : j+1]
			i = j
			if len(calls) == 0 || !patternFuncs[calls[len(calls)-1]] {
				continue
			}
			pat, err := strconv.Unquote(lit)
			if err != nil {
				continue // the parser reports it
			}
			if n, ok := progSize(pat); ok && n > maxInsts {
				return fmt.Errorf("pattern %s compiles to %d instructions; the limit is %d (simplify it, e.g. fewer or smaller repetitions)",
					clip(lit, 40), n, maxInsts)
			}
		case c == '(':
			k := i
			for k > 0 && isIdent(s[k-1]) {
				k--
			}
			calls = append(calls, strings.TrimSpace(s[k:i]))
		case c == ')':
			if len(calls) > 0 {
				calls = calls[:len(calls)-1]
			}
		}
	}
	return nil
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// progSize is the instruction count of pat's RE2 program; ok is false when it does not
// parse (the OTTL function reports that itself).
func progSize(pat string) (int, bool) {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return 0, false
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, false
	}
	return len(prog.Inst), true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
