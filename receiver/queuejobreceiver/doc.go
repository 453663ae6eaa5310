//go:generate ../../bin/mdatagen metadata.yaml

// Package queuejobreceiver is part of the jobtrace collector distribution; see README.md.
package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"
