//go:build !linux

package tailstreamextension

func threadCPU() int64 { return 0 }
