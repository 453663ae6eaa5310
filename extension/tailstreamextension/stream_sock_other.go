//go:build !linux

package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import "net"

// Elsewhere the kernel's own send-buffer bound applies.
func setNotSentLowat(*net.TCPConn, int) error { return nil }
