// Package sharedcomponent lets several pipeline instances of one component ID share state.
//
// The collector builds one receiver or processor instance per pipeline and signal. A receiver
// that serves traces and logs from one Redis poller, or processors that must share one job
// index across the traces and logs pipelines, look their state up here by component ID.
package sharedcomponent // import "github.com/jobtrace/jobtrace/internal/sharedcomponent"

import "sync"

// Map holds one V per key, reference counted.
type Map[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*entry[V]
}

type entry[V any] struct {
	value V
	refs  int
}

// Acquire returns the value for key, creating it with create on first use. The returned
// release func drops this reference; it reports true when it was the last one, so the caller
// knows to tear the value down. Calling release more than once has no further effect.
func (m *Map[K, V]) Acquire(key K, create func() V) (V, func() bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[K]*entry[V])
	}
	e, ok := m.m[key]
	if !ok {
		e = &entry[V]{value: create()}
		m.m[key] = e
	}
	e.refs++
	var once sync.Once
	return e.value, func() bool {
		last := false
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			e.refs--
			if e.refs == 0 {
				delete(m.m, key)
				last = true
			}
		})
		return last
	}
}

// Len reports how many keys are held.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}
