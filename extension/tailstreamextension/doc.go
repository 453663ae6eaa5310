//go:generate ../../bin/mdatagen metadata.yaml

// Package tailstreamextension is part of the jobtrace collector distribution; see README.md.
package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"
