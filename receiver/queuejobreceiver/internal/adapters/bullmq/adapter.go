package bullmq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

// historySkew: a queue found after the start also reports what finished this long before it,
// since finishedOn comes from BullMQ's clock.
const historySkew = time.Minute

// DefaultPrefix is BullMQ's default key prefix (QueueOptions.prefix).
const DefaultPrefix = "bull"

// JobID is jobtrace's job.id for a BullMQ job: `<queue>:<id>`, the suffix of BullMQ's own job
// key, because BullMQ ids are counters per queue and would collide across queues.
func JobID(queue, id string) string { return queue + ":" + id }

// NewFactory returns the adapter factory for `preset: bullmq`.
func NewFactory() adapter.Factory {
	return func(s adapter.Settings) (adapter.Adapter, error) { return New(s) }
}

// Adapter polls BullMQ queues. It is used from one goroutine.
type Adapter struct {
	s      adapter.Settings
	prefix string
	fixed  bool // queues configured, no discovery
	queues map[string]*queueState
	cursor adapter.Cursor
	// last observations of jobs sitting unchanged in a list or set, keyed by job id + where:
	// re-emitted each poll without re-reading their hash (only an event changes them).
	cache *simplelru.LRU[string, []adapter.Observation]
	// badSeen: unusable fields already counted, so a bad job is counted once however often
	// its hash is read again.
	badSeen *simplelru.LRU[uint64, struct{}]
	gaps    atomic.Int64
	// startMs is when the first Poll ran (ms), polledOnce that it completed: a queue found
	// later reports only what finished since, not its whole history.
	startMs    float64
	polledOnce bool
}

type queueState struct {
	name                                                                  string
	wait, active, delayed, prioritized, completed, failed, events, jobPfx string
	lastID                                                                string // last stream entry handled; "" until positioned
	// read is the ordinal (1-based, as XINFO's entries-added counts) of the entry at lastID.
	read         int64
	lastFinished float64
	recover      bool    // a trim gap was found: re-read the finished sets
	recoverFrom  float64 // from this finishedOn score: the last one known before the gap
}

// New validates the settings the way `validate` reports them.
func New(s adapter.Settings) (*Adapter, error) {
	p := s.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	if strings.ContainsAny(p, "*?[]") {
		return nil, errors.New("key_prefix: must not contain glob characters (*?[])")
	}
	for _, q := range s.Queues {
		if q == "" || strings.Contains(q, ":") {
			return nil, fmt.Errorf("queues: %q is not a BullMQ queue name (empty or contains ':')", q)
		}
	}
	if s.Logger == nil {
		s.Logger = zap.NewNop()
	}
	if s.Bad == nil {
		s.Bad = func(string) {}
	}
	if s.MaxPayloadSize <= 0 {
		s.MaxPayloadSize = 1 << 20
	}
	cache, _ := simplelru.NewLRU[string, []adapter.Observation](max(4*(s.Windows.Pending+s.Windows.Active+s.Windows.Retry), 1024), nil)
	badSeen, _ := simplelru.NewLRU[uint64, struct{}](4096, nil)
	a := &Adapter{s: s, prefix: p, queues: map[string]*queueState{}, cache: cache, badSeen: badSeen, fixed: len(s.Queues) > 0}
	for _, q := range s.Queues {
		a.addQueue(q)
	}
	return a, nil
}

// StreamGaps counts the times an events stream was trimmed past the last entry read (each is
// also reported to Settings.Overflow, the receiver's window-overflow counter).
func (a *Adapter) StreamGaps() int64 { return a.gaps.Load() }

func (a *Adapter) addQueue(q string) {
	if _, ok := a.queues[q]; ok {
		return
	}
	k := a.prefix + ":" + q + ":"
	a.queues[q] = &queueState{
		name: q, wait: k + "wait", active: k + "active", delayed: k + "delayed", prioritized: k + "prioritized",
		completed: k + "completed", failed: k + "failed", events: k + "events", jobPfx: k,
	}
}

func (a *Adapter) discover(ctx context.Context, r adapter.Reader) error {
	if a.fixed {
		return nil
	}
	pre := globEscape(a.prefix) + ":"
	keys, err := r.Scan(ctx, &a.cursor, pre+"*:meta", int64(a.s.Scan.Count), a.s.Scan.CallsPerPoll)
	if err != nil {
		return fmt.Errorf("SCAN %s*:meta: %w", pre, err)
	}
	for _, k := range keys {
		q := strings.TrimSuffix(strings.TrimPrefix(k, a.prefix+":"), ":meta")
		if q != "" && !strings.Contains(q, ":") {
			a.addQueue(q)
		}
	}
	return nil
}

// where a job was seen this poll; later sources win (an event is newer than a list).
type where uint8

const (
	inWait where = iota + 1
	inPrioritized
	inDelayed
	inActive
	inCompleted
	inFailed
)

type sighting struct {
	id      string
	where   where
	fresh   bool // named by an event this poll: its hash must be re-read
	stalled bool
	order   int
}

// Poll reads every queue once; see adapter's package doc for the contract.
func (a *Adapter) Poll(ctx context.Context, r adapter.Reader, now time.Time, emit func(*adapter.Observation)) (err error) {
	if a.startMs == 0 {
		a.startMs = float64(now.UnixMilli())
	}
	defer func() {
		if err == nil {
			a.polledOnce = true
		}
	}()
	if err := a.discover(ctx, r); err != nil {
		return err
	}
	names := make([]string, 0, len(a.queues))
	for q := range a.queues {
		names = append(names, q)
	}
	sort.Strings(names)
	for _, q := range names {
		if err := a.pollQueue(ctx, r, a.queues[q], emit); err != nil {
			return err
		}
	}
	return nil
}

func (a *Adapter) pollQueue(ctx context.Context, r adapter.Reader, qs *queueState, emit func(*adapter.Observation)) error {
	w := a.s.Windows
	p := r.Pipeline()
	var read *redis.XStreamSliceCmd
	first := qs.lastID == ""
	// XINFO first: its entries-added and length tell whether entries beyond the last one read
	// were trimmed. (max-deleted-entry-id does not: XTRIM leaves it alone.)
	info := p.XInfoStream(ctx, qs.events)
	if !first {
		read = p.XRead(ctx, &redis.XReadArgs{Streams: []string{qs.events, qs.lastID}, Count: int64(max(w.Finished, 1))})
	}
	wait := p.LRange(ctx, qs.wait, 0, int64(w.Pending-1))
	active := p.LRange(ctx, qs.active, 0, int64(w.Active-1))
	delayed := p.ZRangeWithScores(ctx, qs.delayed, 0, int64(max(w.Retry, 1)-1))
	prio := p.ZRangeWithScores(ctx, qs.prioritized, 0, int64(w.Pending-1))
	var comp, fail *redis.ZSliceCmd
	switch {
	case first && !a.polledOnce:
		// Baseline: the newest finished jobs, so the tracker knows them and reports only what
		// finishes from now on.
		comp = p.ZRevRangeWithScores(ctx, qs.completed, 0, int64(w.Finished-1))
		fail = p.ZRevRangeWithScores(ctx, qs.failed, 0, int64(max(w.Dead, 1)-1))
	case first:
		// A queue found after the start (a new queue, or SCAN reaching it late): what finished
		// since the start (the sets are scored by finishedOn), not its history.
		since := strconv.FormatFloat(a.startMs-float64(historySkew.Milliseconds()), 'f', -1, 64)
		comp = p.ZRevRangeByScoreWithScores(ctx, qs.completed, &redis.ZRangeBy{Min: since, Max: "+inf", Count: int64(max(w.Finished, 1))})
		fail = p.ZRevRangeByScoreWithScores(ctx, qs.failed, &redis.ZRangeBy{Min: since, Max: "+inf", Count: int64(max(w.Dead, 1))})
	case qs.recover:
		min := strconv.FormatFloat(qs.recoverFrom, 'f', -1, 64)
		comp = p.ZRangeByScoreWithScores(ctx, qs.completed, &redis.ZRangeBy{Min: min, Max: "+inf", Count: int64(w.Finished)})
		fail = p.ZRangeByScoreWithScores(ctx, qs.failed, &redis.ZRangeBy{Min: min, Max: "+inf", Count: int64(max(w.Dead, 1))})
	}
	if err := p.Exec(ctx); err != nil && (info.Err() == nil || err.Error() != info.Err().Error()) {
		// XINFO fails on a stream that does not exist (yet); every other reply is checked below.
		return fmt.Errorf("read BullMQ queue %s: %w", qs.name, err)
	}

	seen := map[string]*sighting{}
	order := 0
	see := func(id string, wh where, fresh bool) *sighting {
		order++
		s := seen[id]
		if s == nil {
			s = &sighting{id: id}
			seen[id] = s
		}
		s.where, s.order = wh, order
		s.fresh = s.fresh || fresh
		return s
	}
	for _, c := range []struct {
		cmd *redis.StringSliceCmd
		wh  where
	}{{wait, inWait}, {active, inActive}} {
		ids, err := c.cmd.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, id := range ids {
			see(id, c.wh, false)
		}
	}
	for _, c := range []struct {
		cmd *redis.ZSliceCmd
		wh  where
	}{{delayed, inDelayed}, {prio, inPrioritized}} {
		zs, err := c.cmd.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, z := range zs {
			if id, ok := z.Member.(string); ok {
				see(id, c.wh, false)
			}
		}
	}
	if comp != nil {
		full := false
		batchMax := qs.recoverFrom
		for _, c := range []struct {
			cmd   *redis.ZSliceCmd
			wh    where
			limit int
		}{{comp, inCompleted, w.Finished}, {fail, inFailed, w.Dead}} {
			zs, err := c.cmd.Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for _, z := range zs {
				if id, ok := z.Member.(string); ok {
					see(id, c.wh, true)
					qs.lastFinished = max(qs.lastFinished, z.Score)
					batchMax = max(batchMax, z.Score)
				}
			}
			full = full || len(zs) >= max(c.limit, 1)
		}
		// A recovery that filled its window goes on from where it stopped next poll.
		qs.recover = !first && full
		qs.recoverFrom = batchMax
	}

	if first {
		// Start at the stream's end; what finished before is the baseline read above.
		qs.lastID = "0-0"
		if si, err := info.Result(); err == nil {
			qs.lastID, qs.read = si.LastGeneratedID, si.EntriesAdded
		}
	} else {
		a.checkGap(qs, info)
		streams, err := read.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, st := range streams {
			for _, m := range st.Messages {
				qs.lastID = m.ID
				qs.read++
				a.event(qs, m, see)
			}
		}
	}
	return a.observe(ctx, r, qs, seen, emit)
}

// checkGap finds entries trimmed before they were read. entries-added minus length is the
// ordinal of the last entry ever trimmed (BullMQ trims oldest first, MAXLEN ~); when it passes
// the ordinal of the last entry read, some entries were lost unread.
func (a *Adapter) checkGap(qs *queueState, info *redis.XInfoStreamCmd) {
	si, err := info.Result()
	if err != nil {
		return // no stream (yet)
	}
	trimmed := si.EntriesAdded - si.Length
	if si.EntriesAdded == 0 && si.Length > 0 {
		return // Redis < 7 reports no entries-added: gaps cannot be told apart
	}
	if trimmed > qs.read {
		if !qs.recover {
			qs.recoverFrom = qs.lastFinished // before this poll's events move it on
		}
		a.gaps.Add(1)
		if a.s.Overflow != nil {
			a.s.Overflow(qs.events)
		}
		qs.recover = true
		a.s.Logger.Warn("BullMQ events stream was trimmed past the last entry read; recovering from the job hashes",
			zap.String("stream", qs.events), zap.String("last_read", qs.lastID), zap.Int64("missed", trimmed-qs.read))
		qs.read = trimmed
	}
}

func (a *Adapter) event(qs *queueState, m redis.XMessage, see func(string, where, bool) *sighting) {
	ev, _ := m.Values["event"].(string)
	id, _ := m.Values["jobId"].(string)
	if id == "" {
		return
	}
	switch ev {
	case "completed":
		see(id, inCompleted, true)
	case "failed":
		see(id, inFailed, true)
	case "active":
		see(id, inActive, true)
	case "waiting", "added":
		see(id, inWait, true)
	case "delayed":
		see(id, inDelayed, true)
	case "stalled":
		see(id, inWait, true).stalled = true
	case "retries-exhausted":
		// Follows its "failed" in the same script; nothing new.
	}
}

// observe reads the hashes of fresh or uncached jobs in one pipeline and emits.
func (a *Adapter) observe(ctx context.Context, r adapter.Reader, qs *queueState, seen map[string]*sighting, emit func(*adapter.Observation)) error {
	list := make([]*sighting, 0, len(seen))
	for _, s := range seen {
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].order < list[j].order })
	type read struct {
		s    *sighting
		hash *redis.SliceCmd
		lock *redis.StringCmd
	}
	var reads []read
	p := r.Pipeline()
	for _, s := range list {
		if !s.fresh {
			if obs, ok := a.cache.Get(cacheKey(qs.name, s)); ok {
				for i := range obs {
					o := obs[i]
					emit(&o)
				}
				continue
			}
		}
		rd := read{s: s, hash: p.HMGet(ctx, qs.jobPfx+s.id, hashFields...)}
		if s.where == inActive {
			rd.lock = p.Get(ctx, qs.jobPfx+s.id+":lock")
		}
		reads = append(reads, rd)
	}
	if len(reads) == 0 {
		return nil
	}
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("read BullMQ job hashes of %s: %w", qs.name, err)
	}
	for _, rd := range reads {
		vals, err := rd.hash.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		j := parseJobHash(vals, a.s.MaxPayloadSize, func(reason string) {
			h := xxhash.Sum64String(qs.jobPfx + rd.s.id + "\x00" + reason + "\x00" + field(vals, fOpts) + "\x00" + field(vals, fStacktrace) + "\x00" + field(vals, fAtm))
			if !a.badSeen.Contains(h) {
				a.badSeen.Add(h, struct{}{})
				a.s.Bad(reason)
			}
		})
		if rd.lock != nil && j.Worker == "" {
			if tok, err := rd.lock.Result(); err == nil {
				j.Worker = workerFromLock(tok)
			}
		}
		if rd.s.where >= inCompleted && !j.Finished.IsZero() {
			// The finished sets are scored by finishedOn: where a recovery after a gap starts.
			qs.lastFinished = max(qs.lastFinished, float64(j.Finished.UnixMilli()))
		}
		obs, stale := observations(qs.name, rd.s, &j)
		for i := range obs {
			emit(&obs[i])
		}
		if rd.s.where <= inActive && j.Exists && !stale {
			a.cache.Add(cacheKey(qs.name, rd.s), obs)
		}
	}
	return nil
}

func field(vals []any, i int) string {
	if i < len(vals) {
		if s, ok := vals[i].(string); ok {
			return s
		}
	}
	return ""
}

func cacheKey(q string, s *sighting) string {
	return q + "\x00" + s.id + "\x00" + strconv.Itoa(int(s.where))
}

// observations derives every attempt the job hash proves. atm counts attempts that ended
// (failed or completed); a stall does not count. So with atm = n: a finished job's attempts
// 1..n-1 failed and were retried and n finished; an unfinished job's 1..n were retried and
// n+1 is pending, scheduled or running.
//
// The hash is read after the list or event that named the job, so the job may have moved on
// in between (an "active" event read after the attempt already failed). stale reports that the
// hash contradicts the sighting; then only the attempts the hash alone proves are returned and
// the job's next event or list sighting tells the rest.
func observations(q string, s *sighting, j *jobHash) (_ []adapter.Observation, stale bool) {
	base := adapter.Observation{ID: JobID(q, s.id), Queue: q, Type: j.Name, Worker: j.Worker, Enqueued: j.Timestamp, Carrier: j.Carrier}
	n := j.AttemptsMade
	finished := s.where == inCompleted || s.where == inFailed
	if !j.Exists {
		// Removed on completion/failure: the event alone proves the outcome.
		if !finished {
			return nil, false
		}
		o := base
		o.State = adapter.Succeeded
		if s.where == inFailed {
			o.State = adapter.Failed
		}
		return []adapter.Observation{o}, false
	}
	hashFinished := !j.Finished.IsZero() && !j.Finished.Before(j.Started)
	switch {
	case !finished && hashFinished:
		stale = true // it finished since: attempts 1..n-1 were retried, n ended (its event will say how)
		n--
	case s.where == inActive && j.AttemptsStarted <= j.AttemptsMade:
		stale = true // no attempt runs now: 1..n were retried, n+1 waits
	}
	if stale {
		out := make([]adapter.Observation, 0, max(n, 0))
		for k := 1; k <= n; k++ {
			o := base
			o.State, o.Attempt = adapter.RetryWait, k
			// Whether the ended attempt failed is unknown here, so count from the first
			// entry: stacktrace is appended per failure (exact unless stackTraceLimit cut it).
			if k <= len(j.Stacktrace) {
				typ, msg := splitStack(j.Stacktrace[k-1])
				o.Error = &adapter.Error{Type: typ, Message: msg, Stacktrace: j.Stacktrace[k-1]}
			}
			out = append(out, o)
		}
		if s.stalled {
			// The stalled event is read once: the stall must be told now, though the hash shows
			// the re-run already ended (seen under load). A stall does not count in atm, so the
			// stalled attempt is atm, and its loss comes before that attempt's end.
			lost := base
			lost.State, lost.Attempt = adapter.Lost, max(j.AttemptsMade, 1)
			lost.Error = &adapter.Error{Message: stalledMessage}
			at := min(lost.Attempt-1, len(out))
			out = append(out[:at], append([]adapter.Observation{lost}, out[at:]...)...)
		}
		return out, true
	}
	retried := n
	if finished {
		retried = n - 1
	}
	failures := retried
	if s.where == inFailed {
		failures = n
	}
	out := make([]adapter.Observation, 0, retried+2)
	for k := 1; k <= retried; k++ {
		o := base
		o.State, o.Attempt = adapter.RetryWait, k
		o.Error = stackError(j, k, failures)
		if k == failures && j.FailedReason != "" { // failedReason is the latest failure's
			o.Error = &adapter.Error{Type: errType(o.Error), Message: j.FailedReason, Stacktrace: errStack(o.Error)}
		}
		out = append(out, o)
	}
	o := base
	o.Attempt = n + 1
	switch s.where {
	case inWait, inPrioritized:
		o.State = adapter.Pending
	case inDelayed:
		o.State = adapter.Scheduled
	case inActive:
		o.State, o.Started = adapter.Active, j.Started
	case inCompleted:
		o.State, o.Attempt, o.Started, o.Ended = adapter.Succeeded, max(n, 1), j.Started, j.Finished
	case inFailed:
		o.State, o.Attempt, o.Started, o.Ended = adapter.Failed, max(n, 1), j.Started, j.Finished
		e := stackError(j, n, failures)
		o.Error = &adapter.Error{Type: errType(e), Message: j.FailedReason, Stacktrace: errStack(e)}
	}
	if s.stalled {
		// BullMQ's stalled checker declared the worker of the running attempt lost and requeued
		// it. A stall does not count in atm, so that attempt is n+1, or n when its re-run
		// has already finished.
		lost := base
		lost.State, lost.Attempt = adapter.Lost, n+1
		if finished {
			lost.Attempt = max(n, 1)
		}
		lost.Error = &adapter.Error{Message: stalledMessage}
		out = append(out, lost)
	}
	return append(out, o), false
}

const stalledMessage = "job stalled: its lock expired (BullMQ moved it back to wait)"

// stackError is the error of failed attempt k of failures, from the stacktrace array, which
// keeps one entry per failure but only the last stackTraceLimit of them.
func stackError(j *jobHash, k, failures int) *adapter.Error {
	i := len(j.Stacktrace) - (failures - k) - 1
	if i < 0 || i >= len(j.Stacktrace) {
		return nil
	}
	typ, msg := splitStack(j.Stacktrace[i])
	return &adapter.Error{Type: typ, Message: msg, Stacktrace: j.Stacktrace[i]}
}

func errType(e *adapter.Error) string {
	if e == nil {
		return ""
	}
	return e.Type
}

func errStack(e *adapter.Error) string {
	if e == nil {
		return ""
	}
	return e.Stacktrace
}

// compareIDs orders stream ids "<ms>-<seq>".
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	switch {
	case am != bm:
		if am < bm {
			return -1
		}
		return 1
	case as != bs:
		if as < bs {
			return -1
		}
		return 1
	}
	return 0
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	s, _ := strconv.ParseUint(seq, 10, 64)
	return m, s
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
