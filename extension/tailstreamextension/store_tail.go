package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"cmp"
	"context"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"
)

// The cross-gateway live tail. Each gateway holds live only what the agents routed to it; the
// lines of the others reach it through the shared log store: VictoriaLogs' live tail, minus
// the lines this gateway stored itself (they carry its jobtrace.gateway value). They enter
// through PublishLogs, the pipeline's own door, so streams, the ring, history and the job list
// treat them like local lines. Why the store and not the clients merging every gateway's
// streams: a client (the TUI, curl, a script) then needs one connection to one gateway, whose
// set may change under a DNS or k8s resolver; the price is the store's latency on lines of
// other gateways (tail.delay, 7 s by default).
//
// Why 7 s: VictoriaLogs' tail reads [previous end - 5 s, now - delay] and, per stream, skips
// lines older than the last one it delivered; a line therefore reaches the tail only if it is
// stored at most about delay + 5 s after its timestamp, and before a newer line of its stream.
// The export path holds a line up to jobcorrelation's hold.max_wait (5 s in collector.yaml)
// plus a batch and the store's flush (~1 s). A delay that covers that keeps held lines on the
// tail; lines stored later than it still reach history, not live streams.

const defaultTailDelay = 7 * time.Second

// tailSeen remembers recent lines so a reconnect (VictoriaLogs replays the last seconds of a
// new tail) delivers no line twice.
type tailSeen struct {
	mu   sync.Mutex
	keys map[string]int64 // key -> when seen (unix ns)
}

const (
	tailSeenFor = 2 * time.Minute
	tailSeenMax = 200_000
)

// fresh drops the records of ld already delivered and reports whether any remain.
func (s *tailSeen) fresh(ld plog.Logs, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]int64{}
	}
	if len(s.keys) > tailSeenMax {
		cut := now.Add(-tailSeenFor).UnixNano()
		for k, at := range s.keys {
			if at < cut {
				delete(s.keys, k)
			}
		}
	}
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				k := strconv.FormatInt(int64(lr.Timestamp()), 10) + "\x00" + lr.Body().AsString() + "\x00" + lr.TraceID().String() + lr.SpanID().String()
				if _, dup := s.keys[k]; dup {
					return true
				}
				s.keys[k] = now.UnixNano()
				return false
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
	return ld.LogRecordCount() > 0
}

// tailLoop follows the store until the extension stops, reconnecting with backoff. After a
// break longer than the new tail's replay, the lines stamped in between are backfilled from the
// store (backfill); what cannot be backfilled is told to every stream in band (hub.ReportGap).
func (t *tailstream) tailLoop() {
	s := t.store
	tl, ok := s.logs.(logstore.Tailer)
	if !ok {
		t.settings.Logger.Warn("tailstream: store.tail is enabled but the log store cannot tail")
		return
	}
	delay := cmp.Or(s.cfg.Tail.Delay, defaultTailDelay)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	var seen tailSeen
	// covered: lines stamped before it reached this gateway's streams (or were reported lost).
	var covered time.Time
	backoff := time.Second
	for ctx.Err() == nil {
		began := time.Now()
		connected := false
		q := logstore.TailQuery{ExcludeGateway: s.cfg.Tail.Gateway, Delay: delay, Connected: func(at time.Time) {
			connected = true
			// The new tail starts at at-delay-TailReplay; a line stamped before that and after
			// covered was stored while nobody was following.
			if from, until := covered, at.Add(-delay); !from.IsZero() && until.Sub(from) > tailReplay {
				t.startBackfill(ctx, &seen, from, until)
			}
		}}
		err := tl.Tail(ctx, q, func(ld plog.Logs) {
			if seen.fresh(ld, time.Now()) {
				s.tailLines.Add(int64(ld.LogRecordCount()))
				_ = t.PublishLogs(ctx, ld)
			}
		})
		if ctx.Err() != nil {
			return
		}
		if connected {
			// The last read reached about now-delay; a refresh interval of margin, and the
			// replay de-duplication takes care of the overlap.
			covered = time.Now().Add(-delay - time.Second)
		}
		s.tailBreaks.Add(1)
		if time.Since(began) > time.Minute {
			backoff = time.Second
		}
		t.settings.Logger.Warn("tailstream: cross-gateway tail broke; reconnecting", zap.Error(err), zap.Duration("in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// backfillPasses are when the gap of a reconnect is read, after the reconnect: at once, and
// again for lines that reached the store late (an exporter retrying after the store was down:
// 5s, then up to 30s apart in examples/durable.yaml). A line stored later than the last pass
// reaches history, not live streams.
var (
	backfillPasses = []time.Duration{0, 10 * time.Second, 40 * time.Second}
	// tailReplay is logstore.TailReplay; tests shorten it.
	tailReplay = logstore.TailReplay
)

const defaultBackfillMaxLines = 10_000

// startBackfill reads the gap [from, until) of the tail in the background, in passes.
func (t *tailstream) startBackfill(ctx context.Context, seen *tailSeen, from, until time.Time) {
	s := t.store
	s.tailGaps.Add(1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var waited time.Duration
		for i, at := range backfillPasses {
			select {
			case <-ctx.Done():
				return
			case <-time.After(at - waited):
			}
			waited = at
			if !t.backfill(ctx, seen, from, until, i == 0) {
				return
			}
		}
	}()
}

// backfill delivers the lines of other gateways stamped in [from, until) that no stream got yet,
// oldest first, up to store.tail.backfill_max_lines. Lines beyond that, or the whole gap when
// the store fails, are reported to the streams as a store_gap drop; it then returns false (no
// further pass). report says whether a failure is reported (the first pass) or only logged
// (the later passes, which look for stragglers in a gap already delivered).
func (t *tailstream) backfill(ctx context.Context, seen *tailSeen, from, until time.Time, report bool) bool {
	s := t.store
	limit := cmp.Or(s.cfg.Tail.BackfillMaxLines, defaultBackfillMaxLines)
	qctx, cancel := context.WithTimeout(ctx, cmp.Or(s.cfg.Logs.Timeout, defaultStoreTimeout))
	res, err := s.logs.Query(qctx, logstore.Query{ExcludeGateway: s.cfg.Tail.Gateway, From: from, Until: until, Limit: limit})
	cancel()
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		t.settings.Logger.Warn("tailstream: cannot backfill the cross-gateway tail's gap", zap.Time("from", from), zap.Time("until", until), zap.Error(err))
		if report {
			t.reportGap(hub.Gap{From: from, Until: until})
		}
		return false
	}
	ld := plog.NewLogs()
	for _, e := range res.Entries {
		rl, _, _ := e.Record()
		rl.MoveTo(ld.ResourceLogs().AppendEmpty())
	}
	read := len(res.Entries)
	if seen.fresh(ld, time.Now()) {
		n := int64(ld.LogRecordCount())
		s.tailBackfilled.Add(n)
		s.tailLines.Add(n)
		_ = t.PublishLogs(ctx, ld)
	}
	t.settings.Logger.Info("tailstream: backfilled the cross-gateway tail's gap", zap.Time("from", from), zap.Time("until", until),
		zap.Int("read", read), zap.Int("new", ld.LogRecordCount()), zap.Bool("more", res.More))
	if res.More {
		// The rest of the gap, after the last line delivered; how many is not known.
		last := from
		if k := len(res.Entries); k > 0 {
			last = res.Entries[k-1].Timestamp
		}
		t.reportGap(hub.Gap{From: last, Until: until})
		return false
	}
	return true
}

func (t *tailstream) reportGap(g hub.Gap) {
	t.store.tailGapsReported.Add(1)
	if t.hub != nil {
		t.hub.ReportGap(g)
	}
}

// controlGap is the in-band dropped message of a store gap (hub.ReasonStoreGap).
type controlGap struct {
	Type   string `json:"type"` // dropped
	Reason string `json:"reason"`
	// Count is omitted when unknown (the store could not say, or the gap was too large to
	// count); Total counts the known ones of this stream so far.
	Count *uint64   `json:"count,omitempty"`
	Total uint64    `json:"total"`
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

func gapControl(g hub.GapReport) controlGap {
	c := controlGap{Type: "dropped", Reason: hub.ReasonStoreGap, Total: g.TotalLines, From: g.From.UTC(), Until: g.Until.UTC()}
	if g.Known {
		c.Count = &g.Lines
	}
	return c
}
