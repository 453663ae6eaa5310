//go:build linux

package tracecontext

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// cpuTimer reports "cpu-ns/op", the benchmark goroutine's own CPU time per operation. The
// development machine is shared by several builds at once; wall-clock ns/op then measures
// the queue for a core, whereas thread CPU time measures the code.
func cpuTimer(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		elapsed := threadCPU() - start
		runtime.UnlockOSThread()
		if b.N > 0 {
			b.ReportMetric(float64(elapsed)/float64(b.N), "cpu-ns/op")
		}
	}
}

func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
