// Package termcheck asserts that output meant for a terminal carries nothing a terminal would
// act on: the check behind jobtail's render fuzz tests.
package termcheck // import "github.com/jobtrace/jobtrace/internal/testutil/termcheck"

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Check returns an error naming the first control character in out: any C0 control (newlines
// only between rows, when rows is true), DEL, any C1 control, or a byte that is not UTF-8 (a
// lone 0x9b is CSI to an 8-bit terminal). out must be rendered without colour, so that the
// renderer's own escape sequences cannot hide an injected one.
func Check(out string, rows bool) error {
	if !utf8.ValidString(out) {
		return fmt.Errorf("not valid UTF-8: %q", out)
	}
	for i, r := range out {
		if r == '\n' && rows {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			start := max(0, i-20)
			return fmt.Errorf("control %U at byte %d: …%q…", r, i, out[start:min(len(out), i+20)])
		}
	}
	return nil
}

// CheckLines is Check over rendered rows.
func CheckLines(lines []string) error {
	for i, l := range lines {
		if err := Check(l, false); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return nil
}

// Hostile is the reproduction of issue 18: OSC 52 (clipboard), OSC 0 (title), a cursor
// position request, a screen clear, and a carriage return that hides what precedes it; then a
// raw C1 CSI, DEL, backspace, a tab and a stray 8-bit byte.
const Hostile = "\x1b]52;c;aGFja2Vk\x07 \x1b]0;pwned\x07 \x1b[6n \x1b[2J real-error\rfake-ok \u009b2J\x7f\b\t\x9b"

// Joined reports rows as one string, for error messages.
func Joined(lines []string) string { return strings.Join(lines, "\n") }
