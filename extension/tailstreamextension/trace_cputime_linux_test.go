//go:build linux

package tailstreamextension

import "golang.org/x/sys/unix"

// threadCPU is the calling thread's CPU time in ns. The development VM is shared by several
// builds (load 15-25 on 2 cores), so wall-clock percentiles measure the wait for a core;
// per-iteration thread CPU time (with the goroutine locked to its thread) measures the code.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
