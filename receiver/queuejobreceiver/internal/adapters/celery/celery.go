// Package celery reads Celery's Redis broker (kombu) and Redis result backend for the queuejob
// receiver.
//
// What Celery 5.2 and kombu 5.2 store, checked against their source (kombu/transport/redis.py,
// celery/backends/{base,redis}.py, celery/app/amqp.py):
//
//   - each queue is a list named after it (LPUSH, BRPOP: the tail runs next); priorities other
//     than 0 go to sub-lists `<q>\x06\x16<3|6|9>`. An entry is a kombu envelope: `body` (base64,
//     never read here), `headers` (`id`, `task`, `retries` counted from 0, `eta`, `root_id`,
//     `parent_id`, and `traceparent` where the instrumentation injects it) and `properties`
//     (`delivery_info.routing_key`, `delivery_tag`);
//   - `_kombu.binding.<exchange>` sets whose members are `routing_key\x06\x16pattern\x06\x16queue`:
//     how the adapter finds the queues;
//   - `unacked` (hash delivery_tag → JSON [envelope, exchange, routing_key]) and
//     `unacked_index` (sorted set, score = delivery time): delivered, not yet acknowledged. With
//     the default early ack that is the time until the task starts; with acks_late, until it ends.
//     kombu restores an entry older than visibility_timeout to its queue (LPUSH): the adapter
//     sees the requeue and the tracker reports the attempt abandoned;
//   - `celery-task-meta-<id>` strings (JSON): `status` STARTED (task_track_started), RETRY,
//     SUCCESS, FAILURE or REVOKED, `result` (for errors {exc_type, exc_message, exc_module}),
//     `traceback`, `date_done` (naive UTC), and with result_extended `name`, `worker`, `queue`,
//     `retries`. The adapter SCANs them with a cursor carried across polls, and GETs the result
//     of every task it saw waiting directly, so the result of a watched task is found at once.
//
// The trace context lives only in the message headers: the tracker remembers it by task id until
// the result appears (Celery 5.2 does not copy custom headers onto a retry's message).
// Task events (`-E`) go over pub/sub and are not read.
package celery // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/celery"

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

const (
	sep                 = "\x06\x16"
	defaultResultPrefix = "celery-task-meta-"
)

var prioritySuffixes = []string{"", sep + "3", sep + "6", sep + "9"}

type celeryAdapter struct {
	s            adapter.Settings
	prefix       string // kombu global_keyprefix
	resultPrefix string
	queues       map[string]bool // discovered
	bindScan     adapter.Cursor
	resultScan   adapter.Cursor
	watch        *simplelru.LRU[string, struct{}]  // task ids seen in a message, result not final yet
	done         *adapter.Seen                     // final results already emitted (key hash)
	waiting      map[string]bool                   // ids seen in a queue list this poll
	delivered    *simplelru.LRU[string, float64]   // id/attempt → delivery time of its unacked entry
	held         *simplelru.LRU[string, time.Time] // id/attempt of held retry messages: when first seen
	resultNow    map[string]int                    // id → attempt of the result read this poll
	envs         *adapter.Cache[*envelope]         // decoded messages, by content
	retries      *adapter.Seen                     // RETRY results already reported, by content
	msgRetries   *simplelru.LRU[string, int]       // task id → highest headers.retries seen
	metas        *adapter.Cache[*resultMeta]       // decoded results, by content
	bad          *adapter.Seen
}

// New builds the Celery adapter. Settings.Prefix is kombu's global_keyprefix; ResultPrefix
// replaces "celery-task-meta-".
func New(s adapter.Settings) (adapter.Adapter, error) {
	rp := s.ResultPrefix
	if rp == "" {
		rp = defaultResultPrefix
	}
	for i, q := range s.Queues {
		if strings.Contains(q, sep) {
			return nil, fmt.Errorf("queues[%d].name: give the queue name, not a priority sub-list", i)
		}
	}
	// Every task seen waiting is watched until its result appears, up to windows.completed.
	watch, _ := simplelru.NewLRU[string, struct{}](max(s.Windows.Active*10, s.Windows.Finished, 1), nil)
	delivered, _ := simplelru.NewLRU[string, float64](max(s.Windows.Active, 1)*10, nil)
	held, _ := simplelru.NewLRU[string, time.Time](max(s.Windows.Active, 1)*10, nil)
	msgRetries, _ := simplelru.NewLRU[string, int](max(s.Windows.Active*10, s.Windows.Finished, 1), nil)
	return &celeryAdapter{
		s: s, prefix: s.Prefix, resultPrefix: rp, queues: map[string]bool{"celery": true},
		watch: watch, done: adapter.NewSeen(500_000), bad: adapter.NewSeen(10_000), waiting: map[string]bool{}, delivered: delivered, held: held, resultNow: map[string]int{},
		retries: adapter.NewSeen(100_000), msgRetries: msgRetries,
		envs:  adapter.NewCache[*envelope](max(s.Windows.Active, 1)*2 + max(s.Windows.Pending, 1)*8),
		metas: adapter.NewCache[*resultMeta](max(s.Windows.Active, 1) * 2),
	}, nil
}

// envelope is kombu's message.
type envelope struct {
	Headers    map[string]any `json:"headers"`
	Properties struct {
		DeliveryInfo struct {
			RoutingKey string `json:"routing_key"`
		} `json:"delivery_info"`
	} `json:"properties"`
}

type resultMeta struct {
	Status    string          `json:"status"`
	Result    json.RawMessage `json:"result"`
	Traceback *string         `json:"traceback"`
	DateDone  *string         `json:"date_done"`
	TaskID    string          `json:"task_id"`
	Name      string          `json:"name"`
	Worker    string          `json:"worker"`
	Queue     string          `json:"queue"`
	Retries   *int            `json:"retries"`
}

func (a *celeryAdapter) Poll(ctx context.Context, r adapter.Reader, now time.Time, emit func(*adapter.Observation)) error {
	if err := a.discover(ctx, r); err != nil {
		return err
	}
	w := a.s.Windows
	queues := a.s.Queues
	if len(queues) == 0 {
		for q := range a.queues {
			queues = append(queues, q)
		}
	}
	type lread struct {
		queue string
		cmd   *redis.StringSliceCmd
	}
	p := r.Pipeline()
	var lists []lread
	for _, q := range queues {
		for _, suf := range prioritySuffixes {
			lists = append(lists, lread{queue: q, cmd: p.LRange(ctx, a.prefix+q+suf, 0, int64(w.Pending-1))})
		}
	}
	unackedIdx := p.ZRangeWithScores(ctx, a.prefix+"unacked_index", 0, int64(w.Active-1))
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("celery: read queues: %w", err)
	}
	resultKeys, err := r.Scan(ctx, &a.resultScan, globEscape(a.prefix+a.resultPrefix)+"*", int64(a.s.Scan.Count), a.s.Scan.CallsPerPoll)
	if err != nil {
		return fmt.Errorf("celery: SCAN results: %w", err)
	}

	clear(a.waiting)
	clear(a.resultNow)
	// Messages are emitted after this poll's results: a retry's message is published before
	// the RETRY result that holds the failed attempt's error is written.
	var msgs []*adapter.Observation
	buffer := func(o *adapter.Observation) { msgs = append(msgs, o) }
	for _, l := range lists {
		for _, raw := range l.cmd.Val() {
			a.message(raw, l.queue, false, now, buffer)
		}
	}

	// Second round trip: unacked envelopes and the results to read.
	p = r.Pipeline()
	var unacked *redis.SliceCmd
	var deliveredAt []float64
	if tags := unackedIdx.Val(); len(tags) > 0 {
		fields := make([]string, 0, len(tags))
		for _, z := range tags {
			if s, ok := z.Member.(string); ok {
				fields = append(fields, s)
				deliveredAt = append(deliveredAt, z.Score)
			}
		}
		unacked = p.HMGet(ctx, a.prefix+"unacked", fields...)
	}
	want := make([]string, 0, len(resultKeys)+a.watch.Len())
	seenKey := make(map[string]bool, len(resultKeys))
	for _, k := range resultKeys {
		if !a.done.Has(xxhash.Sum64String(k)) && !seenKey[k] {
			seenKey[k] = true
			want = append(want, k)
		}
	}
	for _, id := range a.watch.Keys() {
		if k := a.prefix + a.resultPrefix + id; !seenKey[k] && !a.done.Has(xxhash.Sum64String(k)) && len(want) < len(resultKeys)+w.Finished {
			seenKey[k] = true
			want = append(want, k)
		}
	}
	var gets []*redis.SliceCmd
	for i := 0; i < len(want); i += max(w.Page, 1) {
		gets = append(gets, p.MGet(ctx, want[i:min(i+max(w.Page, 1), len(want))]...))
	}
	if unacked == nil && len(gets) == 0 {
		a.flush(msgs, now, emit)
		return nil
	}
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("celery: read unacked and results: %w", err)
	}
	if unacked != nil {
		for i, v := range unacked.Val() {
			raw, ok := v.(string)
			if !ok {
				continue
			}
			var entry []json.RawMessage // [envelope, exchange, routing_key]
			if len(raw) > a.s.MaxPayloadSize || json.Unmarshal([]byte(raw), &entry) != nil || len(entry) != 3 {
				a.badOnce(raw, "not_json")
				continue
			}
			var rk string
			_ = json.Unmarshal(entry[2], &rk)
			a.unacked(string(entry[0]), rk, deliveredAt[i], now, buffer)
		}
	}
	k := 0
	for _, g := range gets {
		for _, v := range g.Val() {
			key := want[k]
			k++
			if raw, ok := v.(string); ok {
				a.result(key, raw, emit)
			}
		}
	}
	a.flush(msgs, now, emit)
	return nil
}

// retryHold bounds how long a retry's message waits for its RETRY result. The worker writes
// the result right after publishing the message, but on a loaded machine more than one poll
// can pass in between; a result that never comes (ignore_result) delays the message this long.
const retryHold = 3 * time.Second

// flush emits the poll's message observations. A retry's message seen before its RETRY result
// is held (up to retryHold), so the retried attempt is reported with the error Celery stores
// for it rather than inferred without one.
func (a *celeryAdapter) flush(msgs []*adapter.Observation, now time.Time, emit func(*adapter.Observation)) {
	for _, o := range msgs {
		if o.Attempt > 1 && o.State != adapter.Active {
			k := o.ID + "/" + strconv.Itoa(o.Attempt)
			if r, ok := a.resultNow[o.ID]; !ok || r < o.Attempt-1 {
				first, held := a.held.Get(k)
				if !held {
					a.held.Add(k, now)
					continue
				}
				if now.Sub(first) < retryHold {
					continue
				}
			}
		}
		emit(o)
	}
}

// discover finds queues from kombu's binding sets, a bounded SCAN step per poll.
func (a *celeryAdapter) discover(ctx context.Context, r adapter.Reader) error {
	if len(a.s.Queues) > 0 {
		return nil
	}
	keys, err := r.Scan(ctx, &a.bindScan, globEscape(a.prefix+"_kombu.binding.")+"*", int64(a.s.Scan.Count), 1)
	if err != nil {
		return fmt.Errorf("celery: SCAN bindings: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	p := r.Pipeline()
	cmds := make([]*redis.StringSliceCmd, 0, len(keys))
	for _, k := range keys {
		if strings.HasSuffix(k, ".pidbox") || strings.HasPrefix(strings.TrimPrefix(k, a.prefix+"_kombu.binding."), "celeryev") {
			continue // remote-control and event exchanges: fanout, not task queues
		}
		cmds = append(cmds, p.SMembers(ctx, k))
	}
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("celery: read bindings: %w", err)
	}
	for _, c := range cmds {
		for _, m := range c.Val() {
			parts := strings.Split(m, sep)
			if q := parts[len(parts)-1]; q != "" && len(a.queues) < 1000 && !strings.HasSuffix(q, ".pidbox") && !strings.HasPrefix(q, "celeryev.") {
				a.queues[q] = true
			}
		}
	}
	return nil
}

// unacked handles a delivered message. A task delivered again for the same attempt, its
// message marked redelivered, was restored by kombu in between (its worker died, or the
// visibility timeout passed): that proves the requeue even when the message was taken again
// before a poll could see it waiting.
func (a *celeryAdapter) unacked(raw, routingKey string, at float64, now time.Time, emit func(*adapter.Observation)) {
	o := a.message(raw, routingKey, true, now, func(*adapter.Observation) {})
	if o == nil {
		return
	}
	if o.State == adapter.Active {
		k := o.ID + "/" + strconv.Itoa(o.Attempt)
		prev, ok := a.delivered.Get(k)
		if redelivered, _ := o.Carrier["redelivered"].(bool); ok && at > prev && redelivered {
			requeued := *o
			requeued.State = adapter.Pending
			emit(&requeued)
		}
		if !ok || at > prev {
			a.delivered.Add(k, at)
		}
	}
	emit(o)
}

func (a *celeryAdapter) message(raw, queue string, unacked bool, now time.Time, emit func(*adapter.Observation)) *adapter.Observation {
	if len(raw) > a.s.MaxPayloadSize {
		a.badOnce(raw, "oversized")
		return nil
	}
	env, ok := a.envs.Get(raw, func(raw string) (*envelope, bool) {
		var env envelope
		return &env, json.Unmarshal([]byte(raw), &env) == nil
	})
	if !ok {
		a.badOnce(raw, "not_json")
		return nil
	}
	h := env.Headers
	id, _ := h["id"].(string)
	if id == "" {
		a.badOnce(raw, "missing_id") // protocol 1 messages keep the id in the body
		return nil
	}
	o := &adapter.Observation{ID: id, Queue: queue, Carrier: h, Attempt: 1}
	o.Type, _ = h["task"].(string)
	if n, ok := h["retries"].(float64); ok && n >= 0 && n < 1e6 {
		o.Attempt = int(n) + 1
	}
	if rk := env.Properties.DeliveryInfo.RoutingKey; unacked && rk != "" && queue == "" {
		o.Queue = rk
	}
	eta := time.Time{}
	if s, ok := h["eta"].(string); ok {
		eta, _ = time.Parse(time.RFC3339Nano, s)
	}
	switch {
	case !eta.IsZero() && eta.After(now):
		o.State = adapter.Scheduled // a countdown or a retry's delay, held by a worker or waiting
	case unacked:
		o.State = adapter.Active
	default:
		o.State = adapter.Pending
		if len(a.waiting) < 100_000 {
			a.waiting[o.ID] = true
		}
	}
	a.watch.Add(strings.Clone(id), struct{}{})
	if r, ok := a.msgRetries.Get(id); !ok || o.Attempt-1 > r {
		a.msgRetries.Add(strings.Clone(id), o.Attempt-1)
	}
	emit(o)
	return o
}

func (a *celeryAdapter) result(key, raw string, emit func(*adapter.Observation)) {
	if len(raw) > a.s.MaxPayloadSize {
		a.badOnce(raw, "oversized")
		return
	}
	m, ok := a.metas.Get(raw, func(raw string) (*resultMeta, bool) {
		var m resultMeta
		return &m, json.Unmarshal([]byte(raw), &m) == nil
	})
	if !ok {
		a.badOnce(raw, "not_json")
		return
	}
	id := m.TaskID
	if id == "" {
		id = strings.TrimPrefix(key, a.prefix+a.resultPrefix)
	}
	o := &adapter.Observation{ID: id, Type: m.Name, Queue: m.Queue, Worker: m.Worker}
	if m.Retries != nil && *m.Retries >= 0 {
		o.Attempt = *m.Retries + 1
	}
	final := true
	switch m.Status {
	case "STARTED":
		if a.waiting[id] {
			// kombu restored the message of a task whose worker died: the STARTED result is
			// the dead run's, not a new start.
			return
		}
		o.State, final = adapter.Active, false
		var info struct {
			Hostname string `json:"hostname"`
		}
		if json.Unmarshal(m.Result, &info) == nil && info.Hostname != "" {
			o.Worker = info.Hostname
		}
	case "RETRY":
		// A RETRY result stays until the next attempt writes its own; report it once.
		if !a.retries.Add(xxhash.Sum64String(raw)) {
			return
		}
		o.State, final = adapter.RetryWait, false
		o.Error = a.error(m)
		if o.Attempt == 0 {
			// Without result_extended the result does not say which attempt failed. The retry's
			// message (retries r, published before this result) names it: attempt r failed.
			if r, ok := a.msgRetries.Get(id); ok && r >= 1 {
				o.Attempt = r
			}
		}
	case "SUCCESS":
		o.State = adapter.Succeeded
	case "FAILURE", "REVOKED":
		o.State = adapter.Failed
		o.Error = a.error(m)
		if o.Error != nil && o.Error.Type == "WorkerLostError" {
			o.State = adapter.Lost // the pool child running it died
		}
	default:
		return // PENDING is never stored; unknown states are left alone
	}
	if m.DateDone != nil && final {
		if t, err := time.Parse("2006-01-02T15:04:05.999999", *m.DateDone); err == nil {
			o.Ended = t
		} else if t, err := time.Parse(time.RFC3339Nano, *m.DateDone); err == nil {
			o.Ended = t
		}
	}
	if final {
		a.done.Add(xxhash.Sum64String(key))
		a.watch.Remove(id)
	}
	switch {
	case final, o.State == adapter.RetryWait && o.Attempt == 0:
		a.resultNow[id] = math.MaxInt32 // nothing to wait for
	case o.State == adapter.RetryWait:
		a.resultNow[id] = o.Attempt
	}
	emit(o)
}

func (a *celeryAdapter) error(m *resultMeta) *adapter.Error {
	var exc struct {
		Type    string `json:"exc_type"`
		Message any    `json:"exc_message"`
	}
	e := &adapter.Error{}
	if json.Unmarshal(m.Result, &exc) == nil {
		e.Type = exc.Type
		switch v := exc.Message.(type) {
		case string:
			e.Message = v
		case []any: // the exception's args
			parts := make([]string, 0, len(v))
			for _, p := range v {
				if s, ok := p.(string); ok {
					parts = append(parts, s)
				} else if b, err := json.Marshal(p); err == nil {
					parts = append(parts, string(b))
				}
			}
			e.Message = strings.Join(parts, ", ")
		}
	}
	if m.Traceback != nil {
		e.Stacktrace = *m.Traceback
	}
	if e.Type == "" && e.Message == "" && e.Stacktrace == "" {
		return nil
	}
	return e
}

func (a *celeryAdapter) badOnce(raw, reason string) {
	if a.bad.Add(xxhash.Sum64String(raw)) {
		a.s.Bad(reason)
	}
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
