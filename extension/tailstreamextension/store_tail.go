package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

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

// tailLoop follows the store until the extension stops, reconnecting with backoff.
func (t *tailstream) tailLoop() {
	s := t.store
	tl, ok := s.logs.(logstore.Tailer)
	if !ok {
		t.settings.Logger.Warn("tailstream: store.tail is enabled but the log store cannot tail")
		return
	}
	q := logstore.TailQuery{ExcludeGateway: s.cfg.Tail.Gateway, Delay: s.cfg.Tail.Delay}
	if q.Delay == 0 {
		q.Delay = defaultTailDelay
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	var seen tailSeen
	backoff := time.Second
	for ctx.Err() == nil {
		began := time.Now()
		err := tl.Tail(ctx, q, func(ld plog.Logs) {
			if seen.fresh(ld, time.Now()) {
				s.tailLines.Add(int64(ld.LogRecordCount()))
				_ = t.PublishLogs(ctx, ld)
			}
		})
		if ctx.Err() != nil {
			return
		}
		s.tailBreaks.Add(1)
		if time.Since(began) > time.Minute {
			backoff = time.Second
		}
		// Lines stored while disconnected for longer than VictoriaLogs' replay (5s) reach
		// history and the job list, not live streams.
		t.settings.Logger.Warn("tailstream: cross-gateway tail broke; reconnecting", zap.Error(err), zap.Duration("in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
