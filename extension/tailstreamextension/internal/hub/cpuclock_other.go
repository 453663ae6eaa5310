//go:build !linux

package hub // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"

// threadCPU has no per-thread clock here; the budget falls back to wall time.
func threadCPU() int64 { return 0 }
