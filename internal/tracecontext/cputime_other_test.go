//go:build !linux

package tracecontext

import "testing"

func cpuTimer(*testing.B) func() { return func() {} }
