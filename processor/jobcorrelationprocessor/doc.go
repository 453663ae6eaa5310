//go:generate ../../bin/mdatagen metadata.yaml

// Package jobcorrelationprocessor is part of the jobtrace collector distribution; see README.md.
package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"
