package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// storeState is the durable tier as the extension reads it: the log store behind its own
// timeout and breaker, and the start-up warm-up of the job catalog. Memory always answers
// first; the store fills in what memory does not hold, and a store that fails only makes an
// answer partial.
type storeState struct {
	logs   logstore.Store // nil: no store configured
	cfg    StoreConfig
	maxJob int
	logger *zap.Logger

	// startedAt is when this process began to fill its ring: lines from before it are only
	// in the store.
	startedAt time.Time

	stop chan struct{}
	wg   sync.WaitGroup

	warmDone   atomic.Bool
	warmJobs   atomic.Int64
	warmLines  atomic.Int64
	warmTook   atomic.Int64 // ns
	warmErr    atomic.Pointer[string]
	syncedUpTo atomic.Int64 // ns: lifecycle logs up to here were read by warm/sync
	tailLines  atomic.Int64 // lines of other gateways received by the tail
	tailBreaks atomic.Int64 // tail connections that broke
	// Gaps of the tail (a reconnect after more than the replay), lines backfilled into them,
	// and gaps (or their rests) reported to the streams as lost.
	tailGaps         atomic.Int64
	tailBackfilled   atomic.Int64
	tailGapsReported atomic.Int64
}

func newStoreState(cfg StoreConfig, maxJobs int, logger *zap.Logger) *storeState {
	s := &storeState{cfg: cfg, maxJob: maxJobs, logger: logger, startedAt: time.Now()}
	st, err := cfg.newLogStore()
	if err != nil {
		// Validate() accepted the config, so only an impossible endpoint gets here.
		logger.Error("log store not configured", zap.Error(err))
		return s
	}
	s.logs = st
	return s
}

func (s *storeState) enabled() bool { return s != nil && s.logs != nil }

// Store read bounds: a page of the store is at most this many lines, a scan at most this many
// pages, so no request (or the warm-up) can pull the store's whole content.
const (
	storePage         = 1000
	warmSlices        = 60 // the warm-up reads its window in this many unordered slices
	maxStoreFetch     = 10_000
	maxHistoryScan    = 20
	linesPerJobBudget = 16 // warm-up: lifecycle lines read per job of warm_max_jobs, at most
)

// start warms the catalog and starts the sync loop; neither blocks Start.
func (t *tailstream) startStore() {
	s := t.store
	if !s.enabled() {
		return
	}
	s.stop = make(chan struct{})
	if s.cfg.Tail.Enabled {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t.tailLoop()
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if w := s.cfg.warmWindow(); w > 0 {
			t.warmCatalog(w)
		}
		if s.cfg.SyncInterval <= 0 {
			return
		}
		tick := time.NewTicker(s.cfg.SyncInterval)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				t.syncCatalog()
			}
		}
	}()
}

func (t *tailstream) shutdownStore() {
	if s := t.store; s.enabled() && s.stop != nil {
		close(s.stop)
		s.wg.Wait()
	}
}

// storeContext ends with the extension's shutdown.
func (s *storeState) context(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// ---- the job catalog from stored lifecycle logs ----

// eventFromEntry is ingestLog for a stored line: the same lifecycle fields, read back.
func eventFromEntry(e *ring.Entry) (jobcatalog.EventObservation, bool) {
	name, _ := e.Attr(conventions.AttrEventName)
	if name == "" {
		name = e.Raw.EventName
	}
	if !strings.HasPrefix(name, "job_") || e.JobID == "" {
		return jobcatalog.EventObservation{}, false
	}
	o := jobcatalog.EventObservation{
		JobID: e.JobID, Queue: e.QueueName, WorkerID: e.WorkerID,
		Event: jobcatalog.Event{Time: e.Timestamp, Name: name, Severity: e.Raw.SeverityText, Body: e.Message, WorkerID: e.WorkerID},
	}
	if o.Severity == "" {
		o.Severity = e.Level
	}
	if v, ok := e.Attr(conventions.AttrJobAttempt); ok {
		o.Attempt, _ = strconv.Atoi(v)
	}
	if id, ok := parseTraceID(e.TraceID); ok {
		o.TraceID = id
	}
	if b, err := hexSpanID(e.SpanID); err == nil {
		o.SpanID = b
	}
	return o, true
}

func hexSpanID(s string) (pcommon.SpanID, error) {
	var id pcommon.SpanID
	if len(s) != 16 {
		return id, errors.New("bad span id")
	}
	for i := 0; i < 8; i++ {
		n, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return id, err
		}
		id[i] = byte(n)
	}
	return id, nil
}

// observeStored feeds stored lifecycle lines to the catalog (idempotently, see
// tracequery.Service.ObserveStoredEvents).
func (t *tailstream) observeStored(es []*ring.Entry) int {
	obs := make([]jobcatalog.EventObservation, 0, len(es))
	for _, e := range es {
		if o, ok := eventFromEntry(e); ok {
			obs = append(obs, o)
		}
	}
	return t.traces.ObserveStoredEvents(obs)
}

// rebuildJob looks a job absent from memory up in the store and teaches the catalog its
// stored lifecycle. found is false when the store does not know it; err when it could not say.
func (t *tailstream) rebuildJob(ctx context.Context, id string) (found bool, err error) {
	if !t.store.enabled() || id == "" {
		return false, nil
	}
	res, err := t.store.logs.Query(ctx, logstore.Query{JobID: id, Lifecycle: true, Limit: storePage, Newest: true})
	if err != nil {
		return false, err
	}
	if len(res.Entries) == 0 {
		return false, nil
	}
	t.observeStored(res.Entries)
	return t.traces.HasJob(id), nil
}

// warmCatalog loads the jobs of the last window from the store, newest slice of the window
// first, until warm_max_jobs jobs (or the line budget) are read, then replays their events
// oldest first so the catalog's recency order matches theirs. Each slice is one unordered
// read: the store scans the window once instead of sorting it per page.
func (t *tailstream) warmCatalog(window time.Duration) {
	s := t.store
	started := time.Now()
	maxJobs := s.cfg.WarmMaxJobs
	if maxJobs == 0 {
		maxJobs = s.maxJob
	}
	ctx, cancel := s.context(2 * time.Minute)
	defer cancel()
	until := time.Now().Add(time.Second)
	from := until.Add(-window)
	slice := max(window/warmSlices, time.Second)
	budget := maxJobs * linesPerJobBudget
	jobs := map[string]bool{}
	var keep []*ring.Entry
	var err error
	for end := until; end.After(from) && len(jobs) < maxJobs && len(keep) < budget; end = end.Add(-slice) {
		start := end.Add(-slice)
		if start.Before(from) {
			start = from
		}
		var res logstore.Result
		res, err = s.logs.Query(ctx, logstore.Query{Lifecycle: true, From: start, Until: end, Limit: budget - len(keep), Unordered: true, Fields: lifecycleFields})
		if err != nil {
			break
		}
		for _, e := range res.Entries {
			if e.JobID != "" {
				jobs[e.JobID] = true
				keep = append(keep, e)
			}
		}
	}
	lines := len(keep)
	slices.SortStableFunc(keep, func(a, b *ring.Entry) int { return a.Timestamp.Compare(b.Timestamp) })
	if len(jobs) > maxJobs {
		// The last slice read brought more jobs than the bound: keep the newest.
		newest := make(map[string]bool, maxJobs)
		for i := len(keep) - 1; i >= 0 && len(newest) < maxJobs; i-- {
			newest[keep[i].JobID] = true
		}
		keep = slices.DeleteFunc(keep, func(e *ring.Entry) bool { return !newest[e.JobID] })
		jobs = newest
	}
	t.observeStored(keep)
	s.warmJobs.Store(int64(len(jobs)))
	s.warmLines.Store(int64(lines))
	s.warmTook.Store(int64(time.Since(started)))
	s.syncedUpTo.Store(until.UnixNano())
	if err != nil {
		msg := err.Error()
		s.warmErr.Store(&msg)
		t.settings.Logger.Warn("tailstream: job catalog warm-up from the log store incomplete; the API answers from memory meanwhile",
			zap.Error(err), zap.Int("jobs", len(jobs)))
	} else {
		t.settings.Logger.Info("tailstream: job catalog warmed from the log store",
			zap.Int("jobs", len(jobs)), zap.Int("lines", lines), zap.Duration("window", window), zap.Duration("took", time.Since(started)))
	}
	s.warmDone.Store(true)
}

// syncCatalog reads the lifecycle logs stored since the last read (with an overlap for lines
// still in flight to the store), so jobs other gateways saw join this gateway's job list.
func (t *tailstream) syncCatalog() {
	s := t.store
	const overlap = 30 * time.Second
	ctx, cancel := s.context(s.cfg.Logs.Timeout + defaultStoreTimeout)
	defer cancel()
	now := time.Now()
	from := time.Unix(0, s.syncedUpTo.Load()).Add(-overlap)
	var batch []*ring.Entry
	err := scanOldest(ctx, s.logs, logstore.Query{Lifecycle: true, From: from, Until: now}, storePage, maxStoreFetch, func(e *ring.Entry) bool {
		batch = append(batch, e)
		return true
	})
	t.observeStored(batch)
	switch {
	case err != nil:
	case len(batch) >= maxStoreFetch:
		// Bounded read: go on from where it stopped next time.
		s.syncedUpTo.Store(batch[len(batch)-1].Timestamp.UnixNano() + int64(overlap))
	default:
		s.syncedUpTo.Store(now.UnixNano())
	}
}

// scanOldest pages through q oldest first (by a time cursor, not an offset) until fn says
// stop, maxLines lines were read or the store has no more.
func scanOldest(ctx context.Context, st logstore.Store, q logstore.Query, page, maxLines int, fn func(*ring.Entry) bool) error {
	skip, read := 0, 0
	for read < maxLines {
		q.Offset, q.Limit, q.Newest = skip, min(page, maxLines-read), false
		res, err := st.Query(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			read++
			if !fn(e) {
				return nil
			}
		}
		if !res.More || len(res.Entries) == 0 {
			return nil
		}
		last := res.Entries[len(res.Entries)-1].Timestamp
		n := countAt(res.Entries, last, false)
		if last.Equal(q.From) {
			n += skip
		}
		q.From, skip = last, n
	}
	return nil
}

// countAt counts the entries stamped ts at the start (fromStart) or the end of es.
func countAt(es []*ring.Entry, ts time.Time, fromStart bool) int {
	n := 0
	for i := range es {
		e := es[len(es)-1-i]
		if fromStart {
			e = es[i]
		}
		if !e.Timestamp.Equal(ts) {
			break
		}
		n++
	}
	return n
}

// lifecycleFields are what eventFromEntry reads of a stored lifecycle log.
var lifecycleFields = []string{
	"_time", "_msg", "trace_id", "span_id", "severity_text", "severity_number", "event_name",
	conventions.AttrEventName, conventions.AttrJobID, conventions.AttrQueueName, conventions.AttrWorkerID, conventions.AttrJobAttempt,
}

// listPartial reports that /jobs may lack jobs only the store knows: the warm-up failed, or
// the store is failing now (its breaker is open).
func (s *storeState) listPartial() bool {
	if !s.enabled() {
		return false
	}
	if s.warmErr.Load() != nil {
		return true
	}
	return s.logs.Health().Breaker == "open"
}

// storeHealth describes the store for /health/logging.
func (s *storeState) health() map[string]any {
	if !s.enabled() {
		return nil
	}
	out := map[string]any{"logs": s.logs.Health()}
	warm := map[string]any{"done": s.warmDone.Load(), "jobs": s.warmJobs.Load(), "lines": s.warmLines.Load(),
		"took_ms": time.Duration(s.warmTook.Load()).Milliseconds(), "window": s.cfg.warmWindow().String()}
	if e := s.warmErr.Load(); e != nil {
		warm["error"] = *e
	}
	out["warm_up"] = warm
	if s.cfg.Tail.Enabled {
		out["tail"] = map[string]any{"gateway": s.cfg.Tail.Gateway, "lines": s.tailLines.Load(), "reconnects": s.tailBreaks.Load(),
			"gaps": s.tailGaps.Load(), "backfilled": s.tailBackfilled.Load(), "gaps_reported": s.tailGapsReported.Load()}
	}
	return out
}

// ---- history: the ring merged with the store ----

// histCursor is a position in newest-first timestamp order: every line stamped after ts was
// returned, and skip lines stamped ts (in the page order, see lineKey).
type histCursor struct {
	ts   int64
	skip int
	set  bool
}

func (c histCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("t:" + strconv.FormatInt(c.ts, 10) + ":" + strconv.Itoa(c.skip)))
}

func decodeHistCursor(s string) (histCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return histCursor{}, err
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "t" {
		return histCursor{}, errors.New("malformed cursor")
	}
	ts, err1 := strconv.ParseInt(parts[1], 10, 64)
	skip, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || skip < 0 {
		return histCursor{}, errors.New("malformed cursor")
	}
	return histCursor{ts: ts, skip: skip, set: true}, nil
}

// lineKey identifies a line across the ring and the store (the same record reaches both)
// and orders the lines of one timestamp. It is what a producer wrote: timestamp, message and
// its own scalar attributes. The keys correlation adds are left out, because the live path
// (which fills the ring) may tag a line less completely than the export path (which fills the
// store); so are the trace context, which correlation may lift from attributes, and the
// gateway stamp the store adds. Values are compared as text: the store keeps text.
func lineKey(e *ring.Entry) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(e.Timestamp.UnixNano(), 10))
	b.WriteByte(0)
	b.WriteString(e.Message)
	// Attrs are sorted by key.
	for _, kv := range e.Attrs {
		if taggedKeys[kv.Key] {
			continue
		}
		switch kv.Value.(type) {
		case string, bool, int64, float64, int:
			b.WriteByte(0)
			b.WriteString(kv.Key)
			b.WriteByte('=')
			b.WriteString(fmt.Sprint(kv.Value))
		}
	}
	return b.String()
}

// taggedKeys are the attributes jobcorrelation (and the store) may add to a line, or that
// the store folds into the trace context.
var taggedKeys = map[string]bool{
	conventions.AttrJobID: true, conventions.AttrWorkerID: true, conventions.AttrQueueName: true,
	conventions.AttrJobType: true, conventions.AttrWorkerHost: true, conventions.AttrWorkerPID: true,
	conventions.AttrWorkerSlot: true, logstore.GatewayField: true,
	// VictoriaLogs keeps a record's trace context and a zap trace_id/span_id attribute in one
	// field each, which reads back as the record's.
	"trace_id": true, "span_id": true,
}

// ringFloor is the time from which the ring holds every line it was given: lines stamped
// before it may be only in the store.
func (t *tailstream) ringFloor(snap []*ring.Entry) time.Time {
	floor := t.store.startedAt
	if uint64(len(snap)) < t.ring.Head() {
		// The ring dropped lines (overwritten, aged out, max_bytes): it is complete from its
		// oldest.
		if len(snap) == 0 {
			return t.now()
		}
		if o := snap[0].Ingested; o.After(floor) {
			floor = o
		}
	}
	return floor
}

// historyPage is one page of the merged history.
type historyPage struct {
	entries     []*ring.Entry
	next        *histCursor
	fromRing    int
	fromStore   int
	storeAsked  bool
	storeFailed error
}

// mergedHistory returns up to limit lines matching f and the caller's scope after cur, newest
// first by timestamp (as the ring-only history), from the ring and, when the ring cannot fill
// the page, the store. Store lines pass the same filter and the same scope check as ring lines.
func (t *tailstream) mergedHistory(ctx context.Context, f *logfilter.Filter, p *principal, cur histCursor, limit int) historyPage {
	now := t.now()
	scope := p.entryScope()
	since := f.Since()
	var upTo time.Time // inclusive; zero: no upper bound
	if !f.Until().IsZero() {
		upTo = f.Until()
	}
	if cur.set {
		if c := time.Unix(0, cur.ts).UTC(); upTo.IsZero() || c.Before(upTo) {
			upTo = c
		}
	}
	inRange := func(e *ring.Entry) bool {
		return !e.Timestamp.Before(since) && (upTo.IsZero() || !e.Timestamp.After(upTo))
	}
	snap := t.ring.Snapshot(0, 0, now)
	floor := t.ringFloor(snap)
	var cands []*ring.Entry
	complete := 0 // ring matches stamped at or after the floor: nothing the store has is missing there
	for _, e := range snap {
		if !inRange(e) || (scope != nil && !scope(e)) || !f.Match(e) {
			continue
		}
		cands = append(cands, e)
		if !e.Timestamp.Before(floor) {
			complete++
		}
	}
	ringN := len(cands)
	var out historyPage
	spec := f.Spec()
	// The newest lines of the range are all in the ring down to the floor: when the ring holds
	// a full page there (and the range does not end below the floor), the store adds nothing.
	ringCovers := complete >= limit+cur.skip && (upTo.IsZero() || !upTo.Before(floor))
	needStore := t.store.enabled() && !ringCovers
	// bound: lines stamped at or before it are not all known yet (the store page was full).
	var bound time.Time
	if needStore {
		out.storeAsked = true
		q := logstore.Query{
			JobID: spec.JobID, TraceID: strings.ToLower(spec.TraceID), WorkerID: spec.WorkerID,
			QueueName: spec.QueueName, Service: spec.Service, From: since,
			Limit: min(limit+cur.skip+1, maxStoreFetch), Newest: true,
		}
		if !upTo.IsZero() {
			q.Until = upTo.Add(time.Nanosecond)
		}
		if p.Scoped() && len(p.scope.Queues) > 0 {
			q.Queues = p.scope.Queues
		}
		res, err := t.store.logs.Query(ctx, q)
		if err != nil {
			out.storeFailed = err
		} else {
			for _, e := range res.Entries {
				if (scope != nil && !scope(e)) || !f.Match(e) {
					continue
				}
				cands = append(cands, e)
			}
			if res.More && len(res.Entries) > 0 {
				bound = res.Entries[0].Timestamp // the oldest line of the (oldest-first) page
				if !upTo.IsZero() && !bound.Before(upTo) {
					// One timestamp holds more lines than a page: take them all as known.
					bound = bound.Add(-time.Nanosecond)
				}
			}
		}
	}
	type keyed struct {
		e     *ring.Entry
		key   string
		store bool
	}
	seen := make(map[string]int, len(cands))
	merged := make([]keyed, 0, len(cands))
	for i, e := range cands {
		if !bound.IsZero() && !e.Timestamp.After(bound) {
			continue
		}
		k := lineKey(e)
		if at, dup := seen[k]; dup {
			if i >= ringN && moreTagged(e, merged[at].e) {
				merged[at] = keyed{e, k, true}
			}
			continue
		}
		seen[k] = len(merged)
		merged = append(merged, keyed{e, k, i >= ringN})
	}
	slices.SortFunc(merged, func(a, b keyed) int {
		if c := b.e.Timestamp.Compare(a.e.Timestamp); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	if cur.set {
		drop := 0
		for drop < len(merged) && drop < cur.skip && merged[drop].e.Timestamp.UnixNano() == cur.ts {
			drop++
		}
		merged = merged[drop:]
	}
	more := len(merged) > limit || !bound.IsZero()
	if len(merged) > limit {
		merged = merged[:limit]
	}
	for _, k := range merged {
		out.entries = append(out.entries, k.e)
		if k.store {
			out.fromStore++
		} else {
			out.fromRing++
		}
	}
	if more {
		switch {
		case len(out.entries) > 0:
			last := out.entries[len(out.entries)-1].Timestamp
			n := countAt(out.entries, last, false)
			if cur.set && last.UnixNano() == cur.ts {
				n += cur.skip
			}
			out.next = &histCursor{ts: last.UnixNano(), skip: n, set: true}
		default:
			// Every line of the store page was filtered out: go on below it.
			out.next = &histCursor{ts: bound.UnixNano(), set: true}
		}
	}
	return out
}

// jobLogsWithStore is logsForJob with the store filling in when the ring lacks the job's
// older lines: the newest limit lines that scope admits, oldest first. Store lines pass the
// same per-line scope check as ring lines. partial reports a store that failed.
func (t *tailstream) jobLogsWithStore(ctx context.Context, jobID string, limit int, scope func(*ring.Entry) bool) ([]*ring.Entry, bool) {
	mem := t.logsForJob(jobID, limit, scope)
	if !t.store.enabled() {
		return mem, false
	}
	snap := t.ring.Snapshot(0, 0, t.now())
	if len(mem) == limit && !mem[0].Timestamp.Before(t.ringFloor(snap)) {
		return mem, false
	}
	res, err := t.store.logs.Query(ctx, logstore.Query{JobID: jobID, Limit: limit, Newest: true})
	if err != nil {
		return mem, true
	}
	seen := make(map[string]int, len(mem)+len(res.Entries))
	all := []*ring.Entry{}
	for i, e := range append(slices.Clone(mem), res.Entries...) {
		if scope != nil && !scope(e) {
			continue
		}
		k := lineKey(e)
		if at, dup := seen[k]; dup {
			if i >= len(mem) && moreTagged(e, all[at]) {
				all[at] = e
			}
			continue
		}
		seen[k] = len(all)
		all = append(all, e)
	}
	if len(all) == 0 && mem == nil {
		return nil, false
	}
	slices.SortStableFunc(all, func(a, b *ring.Entry) int { return a.Timestamp.Compare(b.Timestamp) })
	if len(all) > limit {
		all = all[len(all)-limit:]
	}
	return all, false
}

// moreTagged says the stored copy of a line carries correlation the ring's copy lacks: the
// live path tags with what the index knows at once, the export path (which fills the store)
// after the hold or a lookup, so a line of a job the live path did not know yet is complete
// only in the store. Otherwise the ring's copy is kept (its attribute types are the original).
func moreTagged(stored, ringCopy *ring.Entry) bool {
	return ringCopy.TraceID == "" && stored.TraceID != "" ||
		ringCopy.QueueName == "" && stored.QueueName != "" ||
		ringCopy.WorkerID == "" && stored.WorkerID != "" ||
		ringCopy.JobID == "" && stored.JobID != ""
}

// storeUnavailable is the message of answers made partial by a failing store.
func storeUnavailable(err error) string {
	return fmt.Sprintf("the log store could not be read (%v); this answer holds only what is in memory", err)
}
