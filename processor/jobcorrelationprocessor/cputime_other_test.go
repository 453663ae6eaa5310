//go:build !linux

package jobcorrelationprocessor

func threadCPU() int64 { return 0 }
