// Package sidekiq reads Sidekiq's Redis layout (6.x and 7.x) for the queuejob receiver.
//
// What Sidekiq stores, checked against its source (6.4.1 lib/sidekiq/{launcher,processor,
// job_retry,fetch,api}.rb; 7.x launcher.rb):
//
//   - `queues` (set of names) and `queue:<name>` (list of job JSON; LPUSH by clients, BRPOP by
//     workers, RPUSH for the shutdown requeue of BasicFetch#bulk_requeue);
//   - `schedule` and `retry` (sorted sets, score = run time) and `dead` (score = death time) of
//     job JSON; a failure adds `error_class`, `error_message`, `failed_at` (first failure),
//     `retried_at` (later ones), `retry_count` (0 after the first failure, +1 each next one) and,
//     with the `backtrace` option, `error_backtrace` (base64 of zlib of a JSON array);
//   - `processes` (set of identities `host:pid:nonce`) and per process the in-progress hash,
//     `<identity>:workers` in 6.x, `<identity>:work` in 7.x: thread id → JSON
//     {queue, payload (the job JSON as a string), run_at}. It is rewritten only at the 5 s
//     heartbeat and expires 60 s after the last one.
//
// A succeeded job leaves no per-job record (only the stat:processed counter), so this adapter
// never reports a success: the gap is documented in the README.
package sidekiq // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/sidekiq"

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

type sidekiq struct {
	s      adapter.Settings
	prefix string
	seen   *adapter.Seen // finished payloads (retry/dead members) already emitted or rejected
	bad    *adapter.Seen
	parsed *adapter.Cache[parsed] // decoded jobs by content: running and waiting jobs stay put
	works  *adapter.Cache[work]
	// deadFrom is the score from which the dead set is read next; NaN until the first poll.
	deadFrom float64
}

// New builds the Sidekiq adapter. Settings.Prefix is a redis-namespace namespace ("myapp"
// reads "myapp:queues"); Sidekiq 7 dropped namespaces, so it is empty there.
func New(s adapter.Settings) (adapter.Adapter, error) {
	p := s.Prefix
	if p != "" && !strings.HasSuffix(p, ":") {
		p += ":"
	}
	if s.ResultPrefix != "" {
		return nil, fmt.Errorf("result_key_prefix: Sidekiq keeps no results")
	}
	for i, q := range s.Queues {
		if strings.HasPrefix(q, "queue:") {
			return nil, fmt.Errorf("queues[%d].name: give the queue name (%q), not its key", i, strings.TrimPrefix(q, "queue:"))
		}
	}
	return &sidekiq{s: s, prefix: p, seen: adapter.NewSeen(200_000), bad: adapter.NewSeen(10_000), deadFrom: math.NaN(),
		parsed: adapter.NewCache[parsed](max(s.Windows.Active, 1)*2 + max(s.Windows.Pending, 1)*4),
		works:  adapter.NewCache[work](max(s.Windows.Active, 1) * 2)}, nil
}

// job is the subset of a Sidekiq job hash the receiver uses.
type job struct {
	JID        string          `json:"jid"`
	Class      any             `json:"class"`
	Wrapped    any             `json:"wrapped"`
	Queue      string          `json:"queue"`
	RetryCount *int            `json:"retry_count"`
	EnqueuedAt float64         `json:"enqueued_at"`
	CreatedAt  float64         `json:"created_at"`
	FailedAt   float64         `json:"failed_at"`
	RetriedAt  float64         `json:"retried_at"`
	ErrorClass string          `json:"error_class"`
	ErrorMsg   string          `json:"error_message"`
	Backtrace  json.RawMessage `json:"error_backtrace"`
}

func (a *sidekiq) key(k string) string { return a.prefix + k }

func (a *sidekiq) Poll(ctx context.Context, r adapter.Reader, now time.Time, emit func(*adapter.Observation)) error {
	w := a.s.Windows
	p := r.Pipeline()
	var queuesCmd *redis.StringSliceCmd
	if len(a.s.Queues) == 0 {
		queuesCmd = p.SMembers(ctx, a.key("queues"))
	}
	procs := p.SMembers(ctx, a.key("processes"))
	retry := p.ZRangeWithScores(ctx, a.key("retry"), 0, int64(w.Retry-1))
	sched := p.ZRangeWithScores(ctx, a.key("schedule"), 0, int64(w.Retry-1))
	var dead *redis.ZSliceCmd
	if math.IsNaN(a.deadFrom) {
		// First poll: the newest window only; older deaths are history.
		dead = p.ZRevRangeWithScores(ctx, a.key("dead"), 0, int64(min(w.Dead, w.Page)-1))
	} else {
		dead = p.ZRangeByScoreWithScores(ctx, a.key("dead"), &redis.ZRangeBy{
			Min: strconv.FormatFloat(a.deadFrom, 'f', -1, 64), Max: "+inf", Count: int64(min(w.Dead, w.Page))})
	}
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("sidekiq: read sets: %w", err)
	}
	queues := a.s.Queues
	if queuesCmd != nil {
		queues = queuesCmd.Val()
	}
	identities := procs.Val()
	if len(identities) > w.Active {
		identities = identities[:w.Active]
	}

	// Second round trip: the queue lists and the in-progress hashes.
	p = r.Pipeline()
	type qread struct {
		name       string
		head, tail *redis.StringSliceCmd
	}
	qs := make([]qread, 0, len(queues))
	for _, q := range queues {
		k := a.key("queue:" + q)
		// Head: the newest; tail: the next to run, where a shutdown requeue lands.
		qs = append(qs, qread{name: q, head: p.LRange(ctx, k, 0, int64(w.Pending-1)), tail: p.LRange(ctx, k, -int64(w.Pending), -1)})
	}
	type wread struct {
		identity string
		v6, v7   *redis.MapStringStringCmd
	}
	ws := make([]wread, 0, len(identities))
	for _, id := range identities {
		ws = append(ws, wread{identity: id, v6: p.HGetAll(ctx, a.key(id+":workers")), v7: p.HGetAll(ctx, a.key(id+":work"))})
	}
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("sidekiq: read queues and workers: %w", err)
	}

	for _, wr := range ws {
		for _, m := range []map[string]string{wr.v6.Val(), wr.v7.Val()} {
			for tid, raw := range m {
				a.work(wr.identity, tid, raw, emit)
			}
		}
	}
	for _, q := range qs {
		head, tail := q.head.Val(), q.tail.Val()
		seen := make(map[string]struct{}, len(head))
		for _, list := range [][]string{head, tail} {
			for _, raw := range list {
				if _, dup := seen[raw]; dup {
					continue
				}
				seen[raw] = struct{}{}
				if j, m, ok := a.parse(raw); ok {
					emit(a.observation(adapter.Pending, &j, m, q.name))
				}
			}
		}
	}
	for _, z := range sched.Val() {
		if raw, ok := z.Member.(string); ok {
			if j, m, ok := a.parse(raw); ok {
				emit(a.observation(adapter.Scheduled, &j, m, ""))
			}
		}
	}
	for _, z := range retry.Val() {
		a.finished(z, adapter.RetryWait, emit)
	}
	deads := dead.Val()
	first := math.IsNaN(a.deadFrom)
	for i := range deads {
		z := deads[i]
		if first {
			z = deads[len(deads)-1-i] // read newest first: handle oldest first
		}
		a.finished(z, adapter.Dead, emit)
		if math.IsNaN(a.deadFrom) || z.Score > a.deadFrom {
			a.deadFrom = z.Score
		}
	}
	if math.IsNaN(a.deadFrom) {
		// An empty dead set: deaths from now on are new (a minute of clock skew allowed).
		a.deadFrom = float64(now.Add(-time.Minute).UnixNano()) / 1e9
	}
	return nil
}

// finished emits a retry or dead member once.
func (a *sidekiq) finished(z redis.Z, st adapter.State, emit func(*adapter.Observation)) {
	raw, ok := z.Member.(string)
	if !ok {
		return
	}
	h := xxhash.Sum64String(raw) ^ uint64(st)
	if a.seen.Has(h) {
		return
	}
	j, m, ok := a.parse(raw)
	a.seen.Add(h)
	if !ok {
		return
	}
	o := a.observation(st, &j, m, "")
	// retry_count counts failures from 0: the attempt that failed is retry_count+1.
	if j.RetryCount != nil {
		o.Attempt = *j.RetryCount + 1
	} else {
		o.Attempt = 1
	}
	o.Ended = epoch(j.RetriedAt)
	if o.Ended.IsZero() {
		o.Ended = epoch(j.FailedAt)
	}
	if st == adapter.Dead && z.Score > 0 {
		o.Ended = epoch(z.Score)
	}
	o.Error = &adapter.Error{Type: j.ErrorClass, Message: j.ErrorMsg, Stacktrace: a.backtrace(j.Backtrace)}
	if j.ErrorClass == "" && j.ErrorMsg == "" {
		o.Error = nil
	}
	emit(o)
}

type work struct {
	Queue   string          `json:"queue"`
	Payload json.RawMessage `json:"payload"`
	RunAt   float64         `json:"run_at"`
	payload string          // the job JSON, unquoted
}

func (a *sidekiq) work(identity, tid, raw string, emit func(*adapter.Observation)) {
	if len(raw) > a.s.MaxPayloadSize {
		a.badOnce(raw, "oversized")
		return
	}
	wk, ok := a.works.Get(raw, func(raw string) (work, bool) {
		var wk work
		if err := json.Unmarshal([]byte(raw), &wk); err != nil {
			return wk, false
		}
		wk.payload = string(wk.Payload)
		if len(wk.Payload) > 0 && wk.Payload[0] == '"' {
			// 6.x and 7.x store the job as a JSON string inside the JSON value.
			if err := json.Unmarshal(wk.Payload, &wk.payload); err != nil {
				return wk, false
			}
		}
		wk.Payload = nil
		return wk, true
	})
	if !ok {
		a.badOnce(raw, "not_json")
		return
	}
	j, m, ok := a.parse(wk.payload)
	if !ok {
		return
	}
	o := a.observation(adapter.Active, &j, m, strings.TrimPrefix(wk.Queue, "queue:"))
	o.Worker = identity + "/" + tid
	o.Started = epoch(wk.RunAt)
	emit(o)
}

func (a *sidekiq) observation(st adapter.State, j *job, m map[string]any, queue string) *adapter.Observation {
	o := &adapter.Observation{State: st, ID: j.JID, Queue: j.Queue, Type: className(j), Carrier: m}
	if queue != "" {
		o.Queue = queue
	}
	// In a queue or running, retry_count k means k+1 failures so far: this is attempt k+2.
	o.Attempt = 1
	if j.RetryCount != nil {
		o.Attempt = *j.RetryCount + 2
	}
	o.Enqueued = epoch(j.CreatedAt)
	return o
}

func className(j *job) string {
	if s, ok := j.Wrapped.(string); ok && s != "" {
		return s // ActiveJob's real class
	}
	s, _ := j.Class.(string)
	return s
}

type parsed struct {
	j job
	m map[string]any
}

func (a *sidekiq) parse(raw string) (job, map[string]any, bool) {
	p, ok := a.parsed.Get(raw, func(raw string) (parsed, bool) {
		j, m, ok := a.decode(raw)
		return parsed{j, m}, ok
	})
	return p.j, p.m, ok
}

func (a *sidekiq) decode(raw string) (job, map[string]any, bool) {
	var j job
	if len(raw) > a.s.MaxPayloadSize {
		a.badOnce(raw, "oversized")
		return j, nil, false
	}
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		a.badOnce(raw, "not_json")
		return j, nil, false
	}
	if j.JID == "" {
		a.badOnce(raw, "missing_id")
		return j, nil, false
	}
	if j.RetryCount != nil && (*j.RetryCount < 0 || *j.RetryCount > 1_000_000) {
		j.RetryCount = nil
	}
	// The carrier: opentelemetry-ruby puts `traceparent` (and `tracestate`) at the top level.
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return j, nil, true
	}
	return j, m, true
}

func (a *sidekiq) badOnce(raw, reason string) {
	if a.bad.Add(xxhash.Sum64String(raw)) {
		a.s.Bad(reason)
	}
}

// backtrace decodes error_backtrace: base64 (with newlines) of zlib of a JSON array of lines.
// Sidekiq < 6 stored the array itself.
func (a *sidekiq) backtrace(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var lines []string
	if raw[0] == '[' {
		if json.Unmarshal(raw, &lines) != nil {
			return ""
		}
		return strings.Join(lines, "\n")
	}
	var b64 string
	if json.Unmarshal(raw, &b64) != nil {
		return ""
	}
	z, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(b64, "\n", ""))
	if err != nil {
		return ""
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return ""
	}
	defer zr.Close()
	js, err := io.ReadAll(io.LimitReader(zr, int64(a.s.MaxPayloadSize)))
	if err != nil || json.Unmarshal(js, &lines) != nil {
		return ""
	}
	return strings.Join(lines, "\n")
}

// epoch reads Sidekiq's float seconds (8.x: integer milliseconds).
func epoch(f float64) time.Time {
	switch {
	case f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e15:
		return time.Time{}
	case f > 1e11:
		return time.UnixMilli(int64(f))
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}
