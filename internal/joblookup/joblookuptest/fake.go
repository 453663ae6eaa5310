// Package joblookuptest holds an in-memory joblookup.Lookup for the tests of its users.
package joblookuptest // import "github.com/jobtrace/jobtrace/internal/joblookup/joblookuptest"

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/jobtrace/jobtrace/internal/jobindex"
	"github.com/jobtrace/jobtrace/internal/joblookup"
)

// Fake answers from the jobs added with Put.
type Fake struct {
	component.StartFunc
	component.ShutdownFunc

	mu    sync.Mutex
	jobs  map[string]jobindex.JobContext
	err   error
	delay time.Duration
	calls atomic.Int64
}

var _ joblookup.Lookup = (*Fake)(nil)

// NewFake returns an empty fake.
func NewFake() *Fake { return &Fake{jobs: map[string]jobindex.JobContext{}} }

// Put makes the fake know j.
func (f *Fake) Put(j jobindex.JobContext) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[j.JobID] = j
}

// SetError makes every lookup fail with err (nil: answer again).
func (f *Fake) SetError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// SetDelay makes every lookup take d, or until its context ends.
func (f *Fake) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// Calls counts the lookups asked.
func (f *Fake) Calls() int64 { return f.calls.Load() }

// LookupJob implements joblookup.Lookup.
func (f *Fake) LookupJob(ctx context.Context, id string) (jobindex.JobContext, bool, error) {
	f.calls.Add(1)
	f.mu.Lock()
	d, err := f.delay, f.err
	f.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return jobindex.JobContext{}, false, ctx.Err()
		}
	}
	if err != nil {
		return jobindex.JobContext{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	return j, ok, nil
}
