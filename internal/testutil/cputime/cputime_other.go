//go:build !linux

package cputime // import "github.com/jobtrace/jobtrace/internal/testutil/cputime"

func thread() int64 { return 0 }
