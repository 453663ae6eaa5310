//go:build linux

package cputime // import "github.com/jobtrace/jobtrace/internal/testutil/cputime"

import "golang.org/x/sys/unix"

func thread() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
