package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/internal/jobindex"
	"github.com/jobtrace/jobtrace/internal/joblookup"
	"github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor/internal/metadata"
)

// lookuper asks an extension about jobs the index has not met, for records that wait in the
// hold. It never blocks the pipeline: asking starts a bounded goroutine, and an answer goes
// into the shared index (which is then the cache of hits) and wakes the flusher, so the record
// leaves tagged within the hold it would have waited anyway. Misses and errors are remembered
// for miss_ttl so a burst of lines of one unknown job costs one request.
type lookuper struct {
	src     joblookup.Lookup
	idx     jobindex.Index
	notify  func()
	cfg     LookupConfig
	tel     *metadata.TelemetryBuilder
	logger  *zap.Logger
	now     func() time.Time
	slots   chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	pending map[string]struct{}
	misses  map[string]int64 // job id -> unix ns until which it is not asked again
	stopped bool
}

// findLookup returns the extension cfg names, as a joblookup.Lookup.
func findLookup(host component.Host, id component.ID) (joblookup.Lookup, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("lookup.extension: no extension %q in service::extensions", id)
	}
	l, ok := ext.(joblookup.Lookup)
	if !ok {
		return nil, fmt.Errorf("lookup.extension: extension %q cannot look jobs up", id)
	}
	return l, nil
}

func newLookuper(src joblookup.Lookup, idx jobindex.Index, notify func(), cfg LookupConfig, tel *metadata.TelemetryBuilder, logger *zap.Logger) *lookuper {
	ctx, cancel := context.WithCancel(context.Background())
	return &lookuper{
		src: src, idx: idx, notify: notify, cfg: cfg, tel: tel, logger: logger, now: time.Now,
		slots: make(chan struct{}, cfg.MaxInFlight), ctx: ctx, cancel: cancel,
		pending: map[string]struct{}{}, misses: map[string]int64{},
	}
}

// request asks about jobID in the background unless it is being asked about, was missed
// lately, or every slot is busy (the record then waits as it would without lookups, and a
// later flush asks again).
func (l *lookuper) request(jobID string) {
	now := l.now().UnixNano()
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	if _, busy := l.pending[jobID]; busy {
		l.mu.Unlock()
		return
	}
	if until, missed := l.misses[jobID]; missed && now < until {
		l.mu.Unlock()
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.mu.Unlock()
		return
	}
	delete(l.misses, jobID)
	l.pending[jobID] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	go l.ask(jobID)
}

func (l *lookuper) ask(jobID string) {
	defer l.wg.Done()
	defer func() { <-l.slots }()
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.Timeout)
	job, found, err := l.src.LookupJob(ctx, jobID)
	cancel()
	l.tel.ProcessorJobcorrelationLookups.Add(context.Background(), 1)
	l.mu.Lock()
	delete(l.pending, jobID)
	if err != nil || !found {
		l.rememberMissLocked(jobID)
	}
	l.mu.Unlock()
	switch {
	case err != nil:
		if l.ctx.Err() != nil {
			return
		}
		l.tel.ProcessorJobcorrelationLookupErrors.Add(context.Background(), 1)
		if !errors.Is(err, context.DeadlineExceeded) {
			l.logger.Debug("job lookup failed", zap.String("job.id", jobID), zap.Error(err))
		}
	case !found || job.JobID != jobID:
		l.tel.ProcessorJobcorrelationLookupMisses.Add(context.Background(), 1)
	default:
		l.tel.ProcessorJobcorrelationLookupHits.Add(context.Background(), 1)
		// What the extension knows came from a job span or the receiver's lifecycle logs:
		// as complete as the index will get, so the record need not wait for a span.
		job.FromSpan = true
		l.idx.Put(job)
		l.notify()
	}
}

func (l *lookuper) rememberMissLocked(jobID string) {
	now := l.now().UnixNano()
	if len(l.misses) >= l.cfg.MissCacheSize {
		for id, until := range l.misses {
			if until <= now {
				delete(l.misses, id)
			}
		}
		// Still full: forget everything rather than grow; the cost is a few repeated asks.
		if len(l.misses) >= l.cfg.MissCacheSize {
			clear(l.misses)
		}
	}
	l.misses[jobID] = now + int64(l.cfg.MissTTL)
}

// stop cancels the lookups in flight and waits for them.
func (l *lookuper) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
}
