package tracecontext

import (
	"runtime"
	"testing"

	"github.com/jobtrace/jobtrace/internal/testutil/cputime"
)

// cpuTimer reports "cpu-ns/op", the benchmark goroutine's own CPU time per operation. The
// development machine is shared by several builds at once; wall-clock ns/op then measures
// the queue for a core, whereas thread CPU time measures the code.
func cpuTimer(b *testing.B) func() {
	runtime.LockOSThread()
	start := cputime.Thread()
	return func() {
		elapsed := cputime.Thread() - start
		runtime.UnlockOSThread()
		if b.N > 0 {
			b.ReportMetric(float64(elapsed)/float64(b.N), "cpu-ns/op")
		}
	}
}
