// Package timeparam parses the since and until values of the tailstream API (query parameters
// and stream filters) and of jobtail's flags, so that the server and the client agree.
//
// A value is either an RFC 3339 time (2025-09-14T18:00:00Z, fractional seconds allowed) or a
// Go duration counted back from now (15m means fifteen minutes ago, 0s means now). A negative
// duration is an error: "-15m" could as well mean fifteen minutes ago as fifteen minutes
// ahead, and guessing would silently answer the wrong question.
package timeparam // import "github.com/jobtrace/jobtrace/internal/timeparam"

import (
	"fmt"
	"time"
)

// Parse reads s relative to now; the empty string gives the zero time (no bound).
func Parse(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2025-09-14T18:00:00Z) nor a duration back from now (15m)", s)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("%q: a duration counts back from now and must not be negative (write 15m for fifteen minutes ago)", s)
	}
	return now.Add(-d), nil
}
