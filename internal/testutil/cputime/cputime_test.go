package cputime

import (
	"runtime"
	"testing"
)

func TestThreadAdvancesWithWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no per-thread CPU clock")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := Thread()
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i ^ (x >> 3)
	}
	if Thread() <= start || x == 42 {
		t.Fatalf("thread CPU time did not advance: %d -> %d", start, Thread())
	}
}
