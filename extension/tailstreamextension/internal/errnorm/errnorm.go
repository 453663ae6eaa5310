// Package errnorm turns an error message into the form failures are grouped by: the same
// failure of two jobs differs in ids, counts, ports and timings, so those become "…". The
// explanation's summary and same-failure test, and the queue statistics' top errors, share it
// so that one failure reads the same everywhere.
package errnorm // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/errnorm"

import (
	"regexp"
	"strings"
)

// Ellipsis replaces each id or number.
const Ellipsis = "…"

// MaxLen bounds a normalised message (in bytes, cut at a rune boundary): messages that differ
// only after that are one failure for grouping purposes.
const MaxLen = 200

var (
	reUUID = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	// A word with a digit in it is an id (job_12345, a1b2c3d4, 0x1f, v2) or a number (502, 1.5).
	reDigitWord = regexp.MustCompile(`[A-Za-z0-9_\-]*[0-9][A-Za-z0-9_\-]*`)
	// Long hex words without digits (deadbeefcafe) are ids too.
	reHexWord = regexp.MustCompile(`(?i)\b[0-9a-f]{12,}\b`)
	// Runs of ellipses joined by separators (10.0.0.1:6379, 2026-11-27T09:00:00) are one value.
	reRun = regexp.MustCompile(`…(?:[.:/\-+,]…)+`)
)

// Normalize returns msg with ids and numbers replaced by "…", whitespace collapsed, trimmed and
// bounded to MaxLen.
func Normalize(msg string) string {
	if msg == "" {
		return ""
	}
	s := reUUID.ReplaceAllLiteralString(msg, Ellipsis)
	s = reDigitWord.ReplaceAllLiteralString(s, Ellipsis)
	s = reHexWord.ReplaceAllLiteralString(s, Ellipsis)
	s = reRun.ReplaceAllLiteralString(s, Ellipsis)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > MaxLen {
		cut := MaxLen
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + Ellipsis
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
