// Package exthost is a component.Host that holds extensions, for the tests of components that
// find an extension by its ID in Start.
package exthost // import "github.com/jobtrace/jobtrace/internal/testutil/exthost"

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

type host struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h host) GetExtensions() map[component.ID]component.Component { return h.exts }

// New returns a host whose GetExtensions answers exts (nil: none).
func New(exts map[component.ID]component.Component) component.Host {
	return host{Host: componenttest.NewNopHost(), exts: exts}
}
