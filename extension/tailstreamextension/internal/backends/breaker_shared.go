package backends // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"

import "time"

// Breaker is the backends' circuit breaker for other stores the extension reads (the log
// store in internal/logstore), so every dependency degrades the same way.
type Breaker struct{ b *breaker }

// NewBreaker opens after threshold consecutive failures and probes once after openFor.
func NewBreaker(threshold int, openFor time.Duration) *Breaker {
	return &Breaker{b: newBreaker(threshold, openFor)}
}

// Allow reports whether a call may go out now (a half-open breaker lets one probe through).
func (b *Breaker) Allow() bool { return b.b.allow() }

// Success records a call that got an answer.
func (b *Breaker) Success() { b.b.success() }

// Failure records a call that got none.
func (b *Breaker) Failure() { b.b.failure() }

// State returns the state and the consecutive failures.
func (b *Breaker) State() (BreakerState, int) { return b.b.snapshot() }
