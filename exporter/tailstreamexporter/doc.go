//go:generate ../../bin/mdatagen metadata.yaml

// Package tailstreamexporter is part of the jobtrace collector distribution; see README.md.
package tailstreamexporter // import "github.com/jobtrace/jobtrace/exporter/tailstreamexporter"
