// Package workerid parses go-redis-work-queue worker ids.
package workerid // import "github.com/jobtrace/jobtrace/internal/workerid"

import (
	"strconv"
	"strings"
)

// ID is a parsed worker id of the form <host>-<pid>-<unixnano>-<4hex>-<slot>.
type ID struct {
	Host string
	PID  int64
	// StartedUnixNano is when the worker process started.
	StartedUnixNano int64
	// Nonce is the 4 hex digits that tell apart processes started in the same nanosecond.
	Nonce string
	Slot  int64
}

// Parse splits a worker id from the right, because host names may contain dashes. It reports
// false when id does not have that form; callers then keep the id opaque.
func Parse(id string) (ID, bool) {
	var out ID
	rest := id
	var field string
	var ok bool

	if rest, field, ok = cutLast(rest); !ok {
		return ID{}, false
	}
	if out.Slot, ok = parseUint(field); !ok {
		return ID{}, false
	}
	if rest, field, ok = cutLast(rest); !ok || len(field) != 4 || !isHex(field) {
		return ID{}, false
	}
	out.Nonce = field
	if rest, field, ok = cutLast(rest); !ok {
		return ID{}, false
	}
	if out.StartedUnixNano, ok = parseUint(field); !ok {
		return ID{}, false
	}
	if rest, field, ok = cutLast(rest); !ok {
		return ID{}, false
	}
	if out.PID, ok = parseUint(field); !ok {
		return ID{}, false
	}
	if rest == "" {
		return ID{}, false
	}
	out.Host = rest
	return out, true
}

// cutLast splits s at its last dash.
func cutLast(s string) (rest, last string, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func parseUint(s string) (int64, bool) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
