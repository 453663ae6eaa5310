//go:build linux

package hub // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"

import "golang.org/x/sys/unix"

// threadCPU is the calling thread's CPU time in ns (0 when unavailable). The filter budget
// is charged in CPU time, not wall time: on a loaded machine a goroutine may wait for a core
// longer than the budget, and an honest filter must not be closed for that.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
