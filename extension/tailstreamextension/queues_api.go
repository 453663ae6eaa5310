package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/queuestats"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

const (
	defaultQueuesWindow = 15 * time.Minute
	// Jobs whose worker error or whose unexplained failed attempt is remembered while the
	// other half is on its way (a worker's spans and the queue's job span race each other).
	maxPendingErrors = 4096
	// Recently succeeded jobs kept per job type and per queue, as explanation baselines.
	recentPerKey  = 4
	maxRecentKeys = 256
)

// queueObserver feeds the queue statistics from the job spans of the traces pipeline. It is
// the ingest half of GET /queues: no I/O, a pass over the batch's spans and map updates.
type queueObserver struct {
	stats *queuestats.Stats
	// mu makes matching a worker error with its attempt one step: PublishTraces may run on
	// several goroutines, and an error must be credited once.
	mu sync.Mutex
	// workerErr holds the latest worker error of a job not yet matched with its attempt's end;
	// pending holds failed attempts that ended without any error known yet.
	workerErr *lru.Cache[string, workerError]
	pending   *lru.Cache[string, pendingAttempt]
	// recent holds, per "t\x00<job type>" and "q\x00<queue>", the latest succeeded job ids,
	// newest first: an explanation's baseline without walking the catalog.
	recent *lru.Cache[string, []string]
}

type workerError struct {
	msg       string
	exception bool
}

type pendingAttempt struct {
	queue, jobType string
	at             time.Time
}

func newQueueObserver() *queueObserver {
	we, _ := lru.New[string, workerError](maxPendingErrors)
	pe, _ := lru.New[string, pendingAttempt](maxPendingErrors)
	re, _ := lru.New[string, []string](maxRecentKeys)
	return &queueObserver{stats: queuestats.New(queuestats.Options{}), workerErr: we, pending: pe, recent: re}
}

// remember puts a succeeded job first in key's list; call with mu held.
func (o *queueObserver) remember(key, jobID string) {
	old, _ := o.recent.Get(key)
	ids := make([]string, 0, recentPerKey)
	ids = append(ids, jobID)
	for _, id := range old {
		if id != jobID && len(ids) < recentPerKey {
			ids = append(ids, id)
		}
	}
	o.recent.Add(key, ids)
}

// recentSucceeded lists recently succeeded jobs of the type (first) and of the queue.
func (o *queueObserver) recentSucceeded(jobType, queue string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	if jobType != "" {
		if ids, ok := o.recent.Get("t\x00" + jobType); ok {
			out = append(out, ids...)
		}
	}
	if ids, ok := o.recent.Get("q\x00" + queue); ok {
		out = append(out, ids...)
	}
	return out
}

func attrOf(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}

// spanError is what a worker span says went wrong: its exception's message, else its status.
func spanError(sp ptrace.Span) (workerError, bool) {
	if sp.Status().Code() != ptrace.StatusCodeError {
		return workerError{}, false
	}
	evs := sp.Events()
	for i := 0; i < evs.Len(); i++ {
		if ev := evs.At(i); ev.Name() == "exception" {
			msg := attrOf(ev.Attributes(), "exception.message")
			if msg == "" {
				msg = attrOf(ev.Attributes(), "exception.type")
			}
			if msg != "" {
				return workerError{msg: msg, exception: true}, true
			}
		}
	}
	if m := sp.Status().Message(); m != "" {
		return workerError{msg: m}, true
	}
	return workerError{}, false
}

// observe reads one batch: the worker errors first, the best per job (an exception over a
// bare status), so that a job span in the same batch finds them; then the queuejob receiver's
// attempt-ending job spans.
func (o *queueObserver) observe(td ptrace.Traces, ts *tracequery.Service) {
	type jobSpan struct {
		sp    ptrace.Span
		jobID string
	}
	var ends []jobSpan
	var errs map[string]workerError
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				attrs := sp.Attributes()
				jobID := attrOf(attrs, conventions.AttrJobID)
				if jobID == "" {
					continue
				}
				if _, ok := attrs.Get(conventions.AttrJobStatus); ok {
					ends = append(ends, jobSpan{sp: sp, jobID: jobID})
					continue
				}
				we, ok := spanError(sp)
				if !ok {
					continue
				}
				if errs == nil {
					errs = map[string]workerError{}
				}
				if old, ok := errs[jobID]; !ok || (we.exception && !old.exception) {
					errs[jobID] = we
				}
			}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for jobID, we := range errs {
		if p, ok := o.pending.Get(jobID); ok {
			o.pending.Remove(jobID)
			o.stats.ObserveError(p.queue, p.jobType, p.at, we.msg)
			continue
		}
		if old, ok := o.workerErr.Get(jobID); !ok || (we.exception && !old.exception) {
			o.workerErr.Add(jobID, we)
		}
	}
	for _, e := range ends {
		o.observeEnd(e.sp, e.jobID, ts)
	}
}

func (o *queueObserver) observeEnd(sp ptrace.Span, jobID string, ts *tracequery.Service) {
	attrs := sp.Attributes()
	status := attrOf(attrs, conventions.AttrJobStatus)
	if !slices.Contains(conventions.Statuses, status) {
		return
	}
	smp := queuestats.Sample{
		Queue: attrOf(attrs, conventions.AttrQueueName), JobType: attrOf(attrs, conventions.AttrJobType),
		Status: status, At: sp.EndTimestamp().AsTime(), Wait: -1, Run: -1,
	}
	if smp.Queue == "" {
		smp.Queue = attrOf(attrs, conventions.AttrMessagingDestinationName)
	}
	start, end := sp.StartTimestamp().AsTime(), sp.EndTimestamp().AsTime()
	// An estimated start (the attempt finished between two polls) is only a lower bound.
	if attrOf(attrs, conventions.AttrJobStartEstimate) != "true" {
		if end.After(start) || end.Equal(start) {
			smp.Run = end.Sub(start)
		}
		n, _ := strconv.Atoi(attrOf(attrs, conventions.AttrJobAttempt))
		if enq, ok := ts.EnqueuedAt(jobID, n, sp.TraceID(), sp.ParentSpanID()); ok && !start.Before(enq) {
			smp.Wait = start.Sub(enq)
		}
	}
	failed := status != conventions.StatusSucceeded
	if failed {
		smp.Error = attrOf(attrs, conventions.AttrJobErrorMessage)
		if smp.Error == "" {
			if we, ok := o.workerErr.Get(jobID); ok {
				smp.Error = we.msg
			}
		}
	}
	o.workerErr.Remove(jobID)
	o.stats.Observe(smp)
	if !failed {
		if smp.JobType != "" {
			o.remember("t\x00"+smp.JobType, jobID)
		}
		o.remember("q\x00"+smp.Queue, jobID)
	}
	if failed && smp.Error == "" && status != conventions.StatusAbandoned {
		o.pending.Add(jobID, pendingAttempt{queue: smp.Queue, jobType: smp.JobType, at: smp.At})
	}
}

// queuesAnswer is the answer of GET /queues.
type queuesAnswer struct {
	Window string                    `json:"window"`
	Queues []queuestats.QueueFigures `json:"queues"`
}

func (t *tailstream) handleQueues(w http.ResponseWriter, r *http.Request, p *principal) {
	window := defaultQueuesWindow
	maxWindow := t.queues.stats.Options().MaxWindow()
	if s := r.URL.Query().Get("window"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > maxWindow {
			writeError(w, http.StatusBadRequest, "invalid_parameter",
				"window must be a positive duration of at most "+maxWindow.String()+" (e.g. 15m)", "window")
			return
		}
		window = d
	}
	// Figures mix every job of a queue: a caller scoped by attribute sees none, one scoped by
	// queue sees those queues.
	allow := func(queue string) bool { return p.AllowsJob(queue, nil) }
	out := queuesAnswer{Window: window.String(), Queues: t.queues.stats.Snapshot(window, t.now(), allow)}
	t.audit(p, "queues.stats", zap.String("window", out.Window))
	writeJSON(w, http.StatusOK, out)
}
