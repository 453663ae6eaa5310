package workerid

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want ID
		ok   bool
	}{
		{"vm-15485-1795775243850107691-4b53-44", ID{Host: "vm", PID: 15485, StartedUnixNano: 1795775243850107691, Nonce: "4b53", Slot: 44}, true},
		{"ip-10-0-3-7.ec2.internal-1-17-ABCD-0", ID{Host: "ip-10-0-3-7.ec2.internal", PID: 1, StartedUnixNano: 17, Nonce: "ABCD", Slot: 0}, true},
		{"my-worker-host-99-1700000000000000000-00ff-3", ID{Host: "my-worker-host", PID: 99, StartedUnixNano: 1700000000000000000, Nonce: "00ff", Slot: 3}, true},
		{"", ID{}, false},
		{"worker-1", ID{}, false},
		{"vm-15485-1795775243850107691-4b5-44", ID{}, false},  // nonce not 4 digits
		{"vm-15485-1795775243850107691-zzzz-44", ID{}, false}, // nonce not hex
		{"vm-15485-1795775243850107691-4b53-x", ID{}, false},  // slot not a number
		{"vm-abc-1795775243850107691-4b53-1", ID{}, false},    // pid not a number
		{"vm-1-notanano-4b53-1", ID{}, false},
		{"-15485-1795775243850107691-4b53-44", ID{}, false}, // empty host
		{"15485-1795775243850107691-4b53-44", ID{}, false},  // no host field at all
		{"vm-15485-1795775243850107691-4b53-", ID{}, false},
		{"vm-+1-2-4b53-3", ID{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Parse(tt.in)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, ok := Parse("vm-15485-1795775243850107691-4b53-44"); !ok {
			b.Fatal("parse failed")
		}
	}
}
