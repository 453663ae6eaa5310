package backends // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"

import (
	"sync"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState string

const (
	StateClosed   BreakerState = "closed"
	StateOpen     BreakerState = "open"
	StateHalfOpen BreakerState = "half_open"
)

// breaker opens after threshold consecutive failures, so a dead backend costs one timeout per
// openFor instead of one per request. After openFor it lets exactly one probe through
// (half-open); the probe's outcome closes or re-opens it.
type breaker struct {
	mu        sync.Mutex
	threshold int
	openFor   time.Duration
	now       func() time.Time

	state    BreakerState
	failures int
	openedAt time.Time
	probing  bool
}

func newBreaker(threshold int, openFor time.Duration) *breaker {
	return &breaker{threshold: threshold, openFor: openFor, now: time.Now, state: StateClosed}
}

// allow reports whether a call may go out now.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateOpen:
		if b.now().Sub(b.openedAt) < b.openFor {
			return false
		}
		b.state, b.probing = StateHalfOpen, true
		return true
	case StateHalfOpen:
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
	return true
}

func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state, b.failures, b.probing = StateClosed, 0, false
}

func (b *breaker) failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if b.state == StateHalfOpen {
		b.state, b.openedAt = StateOpen, b.now()
		return
	}
	b.failures++
	if b.failures >= b.threshold {
		b.state, b.openedAt = StateOpen, b.now()
	}
}

func (b *breaker) snapshot() (BreakerState, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state
	if st == StateOpen && b.now().Sub(b.openedAt) >= b.openFor {
		st = StateHalfOpen // the next call will probe
	}
	return st, b.failures
}
