package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/internal/jobindex"
	"github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor/internal/metadata"
)

// base is what the traces and logs processors share: the per-component-ID state, acquired
// in Start and released in Shutdown.
type base struct {
	cfg     *Config
	set     processor.Settings
	tel     *metadata.TelemetryBuilder
	state   *sharedState
	core    *correlator
	release func()
}

func newBase(cfg *Config, set processor.Settings) (*base, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &base{cfg: cfg, set: set, tel: tel}, nil
}

func (b *base) start() error {
	id := b.set.ID
	if b.cfg.SharedIndex != "" {
		// Validate checked it.
		id, _ = b.cfg.sharedIndexID()
	}
	st, release, err := acquireState(id, b.cfg, b.set.TelemetrySettings)
	if err != nil {
		return err
	}
	core, err := newCorrelator(b.cfg, st.index)
	if err != nil {
		release()
		return err
	}
	b.state, b.release, b.core = st, release, core
	return nil
}

func (b *base) shutdown() {
	if b.release != nil {
		b.release()
		b.release = nil
	}
	b.tel.Shutdown()
}

type tracesProcessor struct{ *base }

func (p *tracesProcessor) start(context.Context, component.Host) error { return p.base.start() }

func (p *tracesProcessor) shutdown(context.Context) error {
	p.base.shutdown()
	return nil
}

func (p *tracesProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	if p.core == nil {
		return td, nil
	}
	learned := p.core.learnSpans(td)
	tagged, conflicts := p.core.tagSpans(td)
	if tagged > 0 {
		p.tel.ProcessorJobcorrelationSpansTagged.Add(ctx, tagged)
	}
	if conflicts > 0 {
		p.tel.ProcessorJobcorrelationConflicts.Add(ctx, conflicts)
	}
	if learned {
		p.state.notify()
	}
	return td, nil
}

// logsProcessor tags logs and holds back those whose job is not known yet. Held logs leave
// later from its flush goroutine, straight to the next consumer.
type logsProcessor struct {
	*base
	next   consumer.Logs
	hold   *holdBuffer // nil when holding is off
	lookup *lookuper   // nil without lookup.extension

	// emitMu orders emissions: the flusher takes a queue's records and emits them under the
	// write lock, so a batch processed meanwhile cannot overtake them.
	emitMu      sync.RWMutex
	stop        chan struct{}
	done        chan struct{}
	unsubscribe func()
}

func (p *logsProcessor) start(_ context.Context, host component.Host) error {
	if err := p.base.start(); err != nil {
		return err
	}
	if p.hold == nil {
		return nil
	}
	if id := p.cfg.Lookup.Extension; id != nil {
		src, err := findLookup(host, *id)
		if err != nil {
			p.base.shutdown()
			return err
		}
		p.lookup = newLookuper(src, p.state.index, p.state.notify, p.cfg.Lookup, p.tel, p.set.Logger)
	}
	signal, unsubscribe := p.state.subscribe()
	p.unsubscribe = unsubscribe
	p.stop = make(chan struct{})
	p.done = make(chan struct{})
	go p.flushLoop(signal)
	return nil
}

func (p *logsProcessor) shutdown(ctx context.Context) error {
	var err error
	if p.stop != nil {
		close(p.stop)
		select {
		case <-p.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		p.stop = nil
	}
	if p.lookup != nil {
		p.lookup.stop()
		p.lookup = nil
	}
	if p.unsubscribe != nil {
		p.unsubscribe()
		p.unsubscribe = nil
	}
	p.base.shutdown()
	return err
}

func (p *logsProcessor) flushLoop(signal <-chan struct{}) {
	defer close(p.done)
	interval := min(max(p.cfg.Hold.MaxWait/4, 5*time.Millisecond), 250*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.flush(true)
			return
		case <-t.C:
		case <-signal:
		}
		p.flush(false)
	}
}

// flush emits the held records that are ready (their job became known, or they waited
// max_wait); all emits everything.
func (p *logsProcessor) flush(all bool) {
	if p.hold.empty() {
		return
	}
	p.emitMu.Lock()
	defer p.emitMu.Unlock()
	var m memo
	out := p.hold.release(time.Now().UnixNano(), all, func(k logKeys) bool {
		jc, found := p.core.lookup(&m, k.jobID, k.trace)
		if !p.mustWait(k, jc, found) {
			return true
		}
		p.askAbout(k, jc, found)
		return false
	})
	if out.LogRecordCount() == 0 {
		return
	}
	ctx := context.Background()
	var n counts
	p.finishAll(out, &n)
	p.record(ctx, n)
	if err := p.next.ConsumeLogs(ctx, out); err != nil {
		p.set.Logger.Warn("next consumer refused held logs", zap.Int("records", out.LogRecordCount()), zap.Error(err))
	}
}

// askAbout starts a lookup for a waiting record that names a job no span described yet.
func (p *logsProcessor) askAbout(k logKeys, jc jobindex.JobContext, found bool) {
	if p.lookup != nil && k.jobID != "" && (!found || !jc.FromSpan) {
		p.lookup.request(k.jobID)
	}
}

// mustWait says a record names a job, or a trace, that no span described yet.
func (p *logsProcessor) mustWait(k logKeys, jc jobindex.JobContext, found bool) bool {
	if found && jc.FromSpan || k.complete {
		// Tags never overwrite: waiting for the span would add nothing to a complete record,
		// only delay it (and, across gateways, delay the lifecycle logs that another
		// gateway's lookup finds in the store).
		return false
	}
	return k.jobID != "" || p.cfg.Hold.TracedLogs && !k.trace.IsEmpty()
}

func (p *logsProcessor) finishAll(ld plog.Logs, n *counts) {
	var m memo
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			recs := sls.At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				rec := recs.At(k)
				_, jc, found := p.core.prepareLog(rec, &m)
				p.core.finishLog(rec, jc, found, n)
			}
		}
	}
}

func (p *logsProcessor) record(ctx context.Context, n counts) {
	if n.tagged > 0 {
		p.tel.ProcessorJobcorrelationLogRecordsTagged.Add(ctx, n.tagged)
	}
	if n.untagged > 0 {
		p.tel.ProcessorJobcorrelationLogRecordsUntagged.Add(ctx, n.untagged)
	}
	if n.held > 0 {
		p.tel.ProcessorJobcorrelationLogRecordsHeld.Add(ctx, n.held)
	}
	if n.conflicts > 0 {
		p.tel.ProcessorJobcorrelationConflicts.Add(ctx, n.conflicts)
	}
	if n.releasedEarly > 0 {
		p.tel.ProcessorJobcorrelationLogRecordsReleasedEarly.Add(ctx, n.releasedEarly)
	}
}

func (p *logsProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	core := p.core
	if core == nil {
		return ld, nil
	}
	var m memo
	var n counts
	if p.hold == nil {
		p.finishAll(ld, &n)
		p.record(ctx, n)
		return ld, nil
	}

	p.emitMu.RLock()
	defer p.emitMu.RUnlock()
	deadline := time.Now().Add(p.cfg.Hold.MaxWait).UnixNano()
	holding := !p.hold.empty()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			// Once something of this resource and scope waits, everything after it waits too.
			queued := holding && p.hold.find(rl, sl) != nil
			sl.LogRecords().RemoveIf(func(rec plog.LogRecord) bool {
				keys, jc, found := core.prepareLog(rec, &m)
				wait := p.mustWait(keys, jc, found)
				if !queued && !wait {
					core.finishLog(rec, jc, found, &n)
					return false
				}
				if wait {
					p.askAbout(keys, jc, found)
				}
				if p.hold.add(rl, sl, rec, heldMeta{keys: keys, deadline: deadline, size: recordSize(rec)}) {
					n.held++
					queued, holding = true, true
					return true
				}
				// The buffer is full: what waits for this scope leaves first, then this
				// record, tagged as far as the index allows. Nothing is dropped.
				if queued {
					if old, ok := p.hold.takeAll(rl, sl); ok {
						n.releasedEarly += int64(old.LogRecordCount())
						p.finishAll(old, &n)
						if err := p.next.ConsumeLogs(ctx, old); err != nil {
							// Returning the error would make processorhelper drop this batch too.
							p.set.Logger.Warn("next consumer refused held logs", zap.Int("records", old.LogRecordCount()), zap.Error(err))
						}
					}
					queued = false
				}
				n.releasedEarly++
				core.finishLog(rec, jc, found, &n)
				return false
			})
		}
		sls.RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
	}
	rls.RemoveIf(func(rl plog.ResourceLogs) bool { return rl.ScopeLogs().Len() == 0 })
	p.record(ctx, n)
	if ld.LogRecordCount() == 0 {
		return ld, processorhelper.ErrSkipProcessingData
	}
	return ld, nil
}
