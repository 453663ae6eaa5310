//go:generate ../../bin/mdatagen metadata.yaml

// Package piiredactionprocessor is part of the jobtrace collector distribution; see README.md.
package piiredactionprocessor // import "github.com/jobtrace/jobtrace/processor/piiredactionprocessor"
