// Package cputime reads the calling thread's CPU time for benchmarks. The development VM is
// shared by several builds at once, so wall-clock figures mostly measure the wait for a core;
// thread CPU time (with the benchmark goroutine locked to its thread) measures the code.
package cputime // import "github.com/jobtrace/jobtrace/internal/testutil/cputime"

// Thread returns the calling thread's CPU time in ns, or 0 where the platform has no
// per-thread clock (the benchmarks then report zeros for their CPU metrics).
func Thread() int64 { return thread() }
