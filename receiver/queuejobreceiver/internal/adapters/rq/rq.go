// Package rq reads RQ's Redis layout (1.x) for the queuejob receiver.
//
// What RQ 1.13 stores, checked against its source (rq/{queue,job,registry,results,worker}.py):
//
//   - `rq:queues` (set of queue keys `rq:queue:<name>`), each a list of job ids (RPUSH, LPOP:
//     the head runs next);
//   - `rq:job:<id>` hashes: `status`, `origin` (queue), `created_at`, `enqueued_at`,
//     `started_at`, `ended_at` (`%Y-%m-%dT%H:%M:%S.%fZ`, UTC), `worker_name`, `retries_left`,
//     `description` (`func(args…)`), `exc_info` (zlib, only without Redis streams), `meta`
//     (a pickle; the trace context's home) and `data` (zlib of a pickle, never read here);
//   - registries, sorted sets of ids: `rq:wip:<q>` (started; score = heartbeat expiry),
//     `rq:finished:<q>`, `rq:failed:<q>` (score = expiry of the record) and `rq:scheduled:<q>`
//     (score = run time: retries with an interval);
//   - `rq:results:<id>`, a stream (MAXLEN 10) of results: `type` 1 success, 2 failure, 3 stopped,
//     and `exc_string` as base64 of zlib text. A failed attempt that is retried stores nothing:
//     only the final failure's error is known.
//
// RQ keeps no attempt counter, only `retries_left`, which each retry decrements; the adapter
// counts attempts from the `retries_left` it first saw for a job. The library itself declares an
// attempt lost when its work horse dies ("Work-horse terminated unexpectedly") or when its
// started-registry entry expires ("Moved to FailedJobRegistry"); both are reported abandoned.
package rq // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/rq"

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

type rqAdapter struct {
	s      adapter.Settings
	prefix string
	done   *adapter.Seen                     // finished/failed ids already emitted
	bad    *adapter.Seen                     // bad payloads already counted
	first  *simplelru.LRU[string, int]       // job id → retries_left when first seen
	metas  *simplelru.LRU[uint64, carrierAt] // decoded meta by hash, so a waiting job is decoded once
	top    map[string]float64                // registry key → highest score seen
}

type carrierAt struct{ m map[string]any }

// New builds the RQ adapter. Settings.Prefix replaces RQ's "rq" (for a subclassed Queue/Job
// with another namespace).
func New(s adapter.Settings) (adapter.Adapter, error) {
	p := s.Prefix
	if p == "" {
		p = "rq"
	}
	p = strings.TrimSuffix(p, ":") + ":"
	if s.ResultPrefix != "" {
		return nil, fmt.Errorf("result_key_prefix: not used by rq (results live at <key_prefix>:results:<id>)")
	}
	first, _ := simplelru.NewLRU[string, int](100_000, nil)
	metas, _ := simplelru.NewLRU[uint64, carrierAt](10_000, nil)
	return &rqAdapter{s: s, prefix: p, done: adapter.NewSeen(200_000), bad: adapter.NewSeen(10_000), first: first, metas: metas, top: map[string]float64{}}, nil
}

var hashFields = []string{"status", "origin", "created_at", "enqueued_at", "started_at", "ended_at", "worker_name",
	"retries_left", "exc_info", "meta", "description"}

const (
	fStatus = iota
	fOrigin
	fCreated
	fEnqueued
	fStarted
	fEnded
	fWorker
	fRetriesLeft
	fExcInfo
	fMeta
	fDescription
)

type want struct {
	id    string
	queue string
	state adapter.State
	hash  *redis.SliceCmd
	res   *redis.XMessageSliceCmd
}

func (a *rqAdapter) Poll(ctx context.Context, r adapter.Reader, now time.Time, emit func(*adapter.Observation)) error {
	w := a.s.Windows
	queues := a.s.Queues
	if len(queues) == 0 {
		keys, err := r.SMembers(ctx, a.prefix+"queues").Result()
		if err != nil {
			return fmt.Errorf("rq: SMEMBERS %squeues: %w", a.prefix, err)
		}
		for _, k := range keys {
			if q, ok := strings.CutPrefix(k, a.prefix+"queue:"); ok && q != "" {
				queues = append(queues, q)
			}
		}
	}
	type qread struct {
		name                             string
		pending                          *redis.StringSliceCmd
		wip, scheduled, finished, failed *redis.ZSliceCmd
	}
	p := r.Pipeline()
	qs := make([]qread, 0, len(queues))
	for _, q := range queues {
		qs = append(qs, qread{
			name:      q,
			pending:   p.LRange(ctx, a.prefix+"queue:"+q, 0, int64(w.Pending-1)),
			wip:       p.ZRangeWithScores(ctx, a.prefix+"wip:"+q, 0, int64(w.Active-1)),
			scheduled: p.ZRangeWithScores(ctx, a.prefix+"scheduled:"+q, 0, int64(w.Retry-1)),
			// Newest first (highest expiry), from a second below the highest score seen.
			finished: p.ZRevRangeByScoreWithScores(ctx, a.prefix+"finished:"+q, a.since(a.prefix+"finished:"+q, min(w.Page, w.Finished), 0)),
			failed:   p.ZRevRangeByScoreWithScores(ctx, a.prefix+"failed:"+q, a.since(a.prefix+"failed:"+q, min(w.Page, w.Dead), 0)),
		})
	}
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("rq: read queues and registries: %w", err)
	}

	var wants []want
	p = r.Pipeline()
	add := func(id, q string, st adapter.State) {
		wt := want{id: id, queue: q, state: st, hash: p.HMGet(ctx, a.prefix+"job:"+id, hashFields...)}
		if st == adapter.Failed {
			wt.res = p.XRevRangeN(ctx, a.prefix+"results:"+id, "+", "-", 1)
		}
		wants = append(wants, wt)
	}
	for _, q := range qs {
		for _, id := range q.pending.Val() {
			add(id, q.name, adapter.Pending)
		}
		for _, z := range q.scheduled.Val() {
			add(member(z), q.name, adapter.Scheduled)
		}
		for _, z := range q.wip.Val() {
			add(member(z), q.name, adapter.Active)
		}
		for _, fin := range []struct {
			zs []redis.Z
			st adapter.State
		}{{q.finished.Val(), adapter.Succeeded}, {q.failed.Val(), adapter.Failed}} {
			// Oldest first among the new ones, so the output follows the library's order.
			// Scores are whole seconds (now + ttl), so ids finished in one second come in id
			// order: skip those already handled rather than stopping at the first.
			window, key := w.Finished, a.prefix+"finished:"+q.name
			if fin.st == adapter.Failed {
				window, key = w.Dead, a.prefix+"failed:"+q.name
			}
			pg := min(w.Page, window)
			zs := fin.zs
			// A full page: more finished in the band than one page holds; read on, a page per
			// round trip, up to the window.
			for len(zs) > 0 && len(zs)%pg == 0 && len(zs) < window {
				more, err := r.ZRevRangeByScoreWithScores(ctx, key, a.since(key, pg, len(zs))).Result()
				if err != nil {
					return fmt.Errorf("rq: ZREVRANGEBYSCORE %s: %w", key, err)
				}
				zs = append(zs, more...)
				if len(more) < pg {
					break
				}
			}
			var fresh []string
			top := a.top[key]
			for _, z := range zs {
				top = max(top, z.Score)
				if id := member(z); !a.done.Has(doneKey(id, fin.st)) {
					fresh = append(fresh, id)
				}
			}
			if len(a.top) < 10_000 {
				a.top[key] = top
			}
			for i := len(fresh) - 1; i >= 0; i-- {
				add(fresh[i], q.name, fin.st)
			}
		}
	}
	if len(wants) == 0 {
		return nil
	}
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("rq: read job hashes: %w", err)
	}
	for i := range wants {
		a.emitJob(&wants[i], emit)
	}
	return nil
}

// since is the score band a registry is read from: RQ's scores are whole seconds of expiry
// (finish time + ttl), so from one second below the highest score seen, newest first. Records
// kept forever (ttl -1, score -1) are only seen on the first poll.
func (a *rqAdapter) since(key string, count, offset int) *redis.ZRangeBy {
	by := &redis.ZRangeBy{Max: "+inf", Min: "-inf", Offset: int64(offset), Count: int64(count)}
	if top, ok := a.top[key]; ok {
		by.Min = strconv.FormatFloat(top-1, 'f', -1, 64)
	}
	return by
}

func member(z redis.Z) string {
	s, _ := z.Member.(string)
	return s
}

func doneKey(id string, st adapter.State) uint64 {
	return xxhash.Sum64String(id) ^ uint64(st)*0x9E3779B97F4A7C15
}

func (a *rqAdapter) emitJob(wt *want, emit func(*adapter.Observation)) {
	vals, err := wt.hash.Result()
	if err != nil || len(vals) != len(hashFields) {
		return
	}
	f := make([]string, len(vals))
	present := false
	for i, v := range vals {
		if s, ok := v.(string); ok {
			f[i] = s
			present = true
		}
	}
	if !present {
		// The hash expired (result_ttl) or was deleted: nothing to say. Finished ids are not
		// retried forever.
		if wt.state == adapter.Succeeded || wt.state == adapter.Failed {
			a.done.Add(doneKey(wt.id, wt.state))
		}
		return
	}
	if wt.state == adapter.Active && f[fStatus] != "" && f[fStatus] != "started" {
		// Listed in wip a round trip before the hash was read, and moved on since (RQ sets
		// started with the wip entry, in one transaction): failed and requeued, or finished.
		// Its retries_left may already count the retry, so reporting it running would invent
		// a running next attempt, which the tracker, seeing it queued at the next poll, would
		// take for a requeue (a false abandoned span, seen under load). The next poll's
		// listing says where it is.
		return
	}
	o := &adapter.Observation{State: wt.state, ID: wt.id, Queue: f[fOrigin], Worker: f[fWorker]}
	if o.Queue == "" {
		o.Queue = wt.queue
	}
	o.Type = funcName(f[fDescription])
	o.Enqueued = parseTime(f[fCreated])
	if wt.state != adapter.Pending && wt.state != adapter.Scheduled {
		o.Started = parseTime(f[fStarted])
	}
	if wt.state == adapter.Succeeded || wt.state == adapter.Failed {
		o.Ended = parseTime(f[fEnded])
	}
	o.Attempt = a.attempt(wt.id, f[fRetriesLeft])
	if f[fMeta] != "" {
		o.Carrier = a.meta(f[fMeta])
	}
	if wt.state == adapter.Failed {
		exc := a.failure(wt, f[fExcInfo])
		if strings.HasPrefix(exc, "Work-horse terminated unexpectedly") || strings.HasPrefix(exc, "Moved to FailedJobRegistry") {
			o.State = adapter.Lost
		}
		if exc != "" {
			o.Error = parseTraceback(exc)
		}
	}
	if wt.state == adapter.Succeeded || wt.state == adapter.Failed {
		a.done.Add(doneKey(wt.id, wt.state))
	}
	emit(o)
}

// attempt counts from the first retries_left seen: each retry decrements it.
func (a *rqAdapter) attempt(id, rl string) int {
	n, err := strconv.Atoi(rl)
	if err != nil || n < 0 {
		if _, ok := a.first.Get(id); !ok {
			a.first.Add(id, -1)
		}
		return 1
	}
	first, ok := a.first.Get(id)
	if !ok || first < 0 {
		a.first.Add(id, n)
		first = n
	}
	if first < n {
		a.first.Add(id, n)
		return 1
	}
	return first - n + 1
}

// failure is the error RQ stored for the final failure: the newest result's exc_string, or
// the job hash's zlib exc_info (servers without streams, and the registry cleanup).
func (a *rqAdapter) failure(wt *want, excInfo string) string {
	if wt.res != nil {
		if msgs, err := wt.res.Result(); err == nil && len(msgs) > 0 {
			if t, _ := msgs[0].Values["type"].(string); t == "2" || t == "3" {
				if s, ok := msgs[0].Values["exc_string"].(string); ok {
					if z, err := base64.StdEncoding.DecodeString(s); err == nil {
						if txt, ok := a.inflate([]byte(z)); ok {
							return txt
						}
					}
					a.badOnce(s, "bad_exc_string")
				}
			}
		}
	}
	if excInfo == "" {
		return ""
	}
	if txt, ok := a.inflate([]byte(excInfo)); ok {
		return txt
	}
	return excInfo // RQ falls back to plain text too
}

func (a *rqAdapter) inflate(z []byte) (string, bool) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return "", false
	}
	defer zr.Close()
	b, err := io.ReadAll(io.LimitReader(zr, int64(a.s.MaxPayloadSize)+1))
	if err != nil || len(b) > a.s.MaxPayloadSize {
		return "", false
	}
	return string(b), true
}

func (a *rqAdapter) meta(raw string) map[string]any {
	h := xxhash.Sum64String(raw)
	if c, ok := a.metas.Get(h); ok {
		return c.m
	}
	d, err := readStringDict([]byte(raw), a.s.MaxPayloadSize)
	if err != nil {
		a.badOnce(raw, "meta_not_string_dict")
		a.metas.Add(h, carrierAt{})
		return nil
	}
	m := make(map[string]any, len(d))
	for k, v := range d {
		m[k] = v
	}
	a.metas.Add(h, carrierAt{m: m})
	return m
}

func (a *rqAdapter) badOnce(raw, reason string) {
	if a.bad.Add(xxhash.Sum64String(raw)) {
		a.s.Bad(reason)
	}
}

// funcName is the function of RQ's description, `module.func(args…)`, without the arguments
// (they may carry personal data).
func funcName(desc string) string {
	if i := strings.IndexByte(desc, '('); i > 0 {
		return desc[:i]
	}
	if len(desc) > 200 {
		return ""
	}
	return desc
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999Z", "2006-01-02T15:04:05Z", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// parseTraceback splits a Python traceback's last line, `pkg.Error: message`.
func parseTraceback(tb string) *adapter.Error {
	e := &adapter.Error{Stacktrace: tb}
	lines := strings.Split(strings.TrimRight(tb, "\n "), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(tb, "Traceback") {
		e.Message, e.Stacktrace = strings.TrimSpace(tb), ""
		return e
	}
	typ, msg, ok := strings.Cut(last, ": ")
	if !ok {
		typ, msg = last, ""
	}
	if isDottedName(typ) {
		e.Type, e.Message = typ, msg
	} else {
		e.Message = last
	}
	return e
}

func isDottedName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
