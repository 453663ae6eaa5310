package asynq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

// The key layout of asynq v0.26 (internal/base/base.go); asynq's prefix is not configurable.
//
//   - asynq:queues: set of queue names;
//   - asynq:{<q>}:pending, :active: lists of task ids;
//   - asynq:{<q>}:scheduled, :retry (score: when it runs), :archived (score: when archived),
//     :completed (score: completed_at + retention; only tasks with a Retention), :lease (score:
//     lease expiry of each active task): sorted sets of task ids;
//   - asynq:{<q>}:t:<id>: hash with `state` and `msg` (a TaskMessage, see taskmessage.go);
//   - asynq:workers: sorted set of the keys asynq:workers:{<host>:<pid>:<server id>}, hashes of
//     task id -> WorkerInfo, rewritten at each 5 s heartbeat.
//
// What asynq's scripts do, and so what each structure proves:
//   - A running task's lease (score in :lease) is extended every 5 s by its server's heartbeat,
//     30 s ahead. Once it lies in the past the worker is gone: asynq's Inspector then reports the
//     task orphaned, and this adapter reports the attempt lost.
//   - Retry (processor or recoverer): LREM active, ZADD retry, msg rewritten with retried+1,
//     error_msg and last_failed_at. The recoverer does the same for a task whose lease expired
//     more than 30 s ago, with error_msg "asynq: task lease expired" (the same lost attempt).
//   - Archive: msg with error_msg and last_failed_at, retried unchanged (so the dead attempt is
//     retried+1), ZADD archived.
//   - Success: with a Retention, msg with completed_at and ZADD completed; without one, DEL of the
//     task hash. A success without retention leaves nothing to prove it and is not reported.
//   - Requeue at shutdown (a task still running when the server stops): back to pending with
//     retried unchanged.
const (
	keyPrefix  = "asynq:"
	allQueues  = "asynq:queues"
	allWorkers = "asynq:workers"
	// ErrLeaseExpired is the error asynq's recoverer records for a task whose worker was lost.
	ErrLeaseExpired = "asynq: task lease expired"
)

// leaseSkew: a lease counts as run out this long after its expiry by the collector's clock
// (asynq extends leases 30 s ahead every 5 s, so a live worker's is never this late).
const leaseSkew = 2 * time.Second

// historySkew: a queue first read after the start also reports what finished this long before
// it, since completed_at and last_failed_at come from asynq's clock.
const historySkew = time.Minute

// NewFactory returns the adapter factory for `preset: asynq`.
func NewFactory() adapter.Factory {
	return func(s adapter.Settings) (adapter.Adapter, error) { return New(s) }
}

// Adapter polls asynq queues. It is used from one goroutine.
type Adapter struct {
	s     adapter.Settings
	fixed []string
	// decoded messages by queue, id, state and score/position: a task sitting unchanged in a
	// set is decoded once and re-emitted from here.
	cache *simplelru.LRU[string, []adapter.Observation]
	// badSeen: undecodable messages already counted (by content), counted once however
	// often the task moves.
	badSeen *simplelru.LRU[uint64, struct{}]
	polled  map[string]bool // queues read once (their first window is the baseline, no overflow)
	// start is the first Poll's time: a queue first read later reports the tasks that finished
	// since, not its history (the first Poll's history is the tracker's baseline).
	start     time.Time
	anyPolled bool
	// listed: the pending and active list entries (queue, id -> state) of the previous poll;
	// listing: this poll's. A list entry has no score to version its message, so a cached one
	// is used only when the previous poll listed the task in the same list: a task that failed,
	// went through retry and came back to pending since it was last seen active carries
	// retried+1, and the message cached at its first pending sighting named the attempt before
	// (which the tracker, having seen it running, took for a requeue: a phantom abandoned span
	// between the retried and the succeeded attempts, seen under load).
	listed, listing map[string]state
}

// New validates the settings the way `validate` reports them.
func New(s adapter.Settings) (*Adapter, error) {
	if s.Prefix != "" && s.Prefix != "asynq" {
		return nil, errors.New("key_prefix: asynq's key prefix is fixed (asynq:); leave key_prefix empty")
	}
	for _, q := range s.Queues {
		if strings.TrimSpace(q) == "" || strings.ContainsAny(q, "{}") {
			return nil, fmt.Errorf("queues: %q is not an asynq queue name", q)
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
	w := s.Windows
	cache, _ := simplelru.NewLRU[string, []adapter.Observation](max(2*(w.Pending+w.Active+2*w.Retry+w.Finished+w.Dead), 1024), nil)
	badSeen, _ := simplelru.NewLRU[uint64, struct{}](4096, nil)
	return &Adapter{s: s, fixed: s.Queues, cache: cache, badSeen: badSeen, polled: map[string]bool{},
		listed: map[string]state{}, listing: map[string]state{}}, nil
}

const reasonUndecodable = "asynq_msg_undecodable"

type state uint8

const (
	stPending state = iota + 1
	stActive
	stScheduled
	stRetry
	stArchived
	stCompleted
	stOrphaned // active, lease expired: the worker is gone (asynq's Inspector: IsOrphaned)
)

// hashStates are the `state` values of asynq's task hash.
var hashStates = map[string]state{
	"pending": stPending, "active": stActive, "scheduled": stScheduled, "retry": stRetry,
	"archived": stArchived, "completed": stCompleted,
}

type member struct {
	q, id string
	st    state
	score float64
}

type workerInfo struct {
	worker  string
	started time.Time
}

// Poll reads every queue once; see adapter's package doc for the contract.
func (a *Adapter) Poll(ctx context.Context, r adapter.Reader, now time.Time, emit func(*adapter.Observation)) error {
	if a.start.IsZero() {
		a.start = now
	}
	queues := a.fixed
	if len(queues) == 0 {
		qs, err := r.SMembers(ctx, allQueues).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("SMEMBERS %s: %w", allQueues, err)
		}
		sort.Strings(qs)
		queues = qs
	}
	w := a.s.Windows
	p := r.Pipeline()
	type qread struct {
		q                                   string
		pending, active                     *redis.StringSliceCmd
		sched, retry, arch, complete, lease *redis.ZSliceCmd
	}
	reads := make([]qread, 0, len(queues))
	for _, q := range queues {
		k := keyPrefix + "{" + q + "}:"
		reads = append(reads, qread{
			q:        q,
			pending:  p.LRange(ctx, k+"pending", 0, int64(max(w.Pending, 1)-1)),
			active:   p.LRange(ctx, k+"active", 0, int64(max(w.Active, 1)-1)),
			sched:    p.ZRangeWithScores(ctx, k+"scheduled", 0, int64(max(w.Retry, 1)-1)),
			retry:    p.ZRangeWithScores(ctx, k+"retry", 0, int64(max(w.Retry, 1)-1)),
			arch:     p.ZRevRangeWithScores(ctx, k+"archived", 0, int64(max(w.Dead, 1)-1)),
			complete: p.ZRevRangeWithScores(ctx, k+"completed", 0, int64(max(w.Finished, 1)-1)),
			// Leases that ran out: asynq's Inspector reports such an active task orphaned. The
			// margin absorbs clock skew between the collector and asynq's servers.
			lease: p.ZRangeByScoreWithScores(ctx, k+"lease", &redis.ZRangeBy{Min: "-inf", Max: "(" + strconv.FormatInt(now.Add(-leaseSkew).Unix(), 10),
				Count: int64(max(w.Active, 1))}),
		})
	}
	workerKeys := p.ZRangeWithScores(ctx, allWorkers, 0, int64(max(w.Active, 1)-1))
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("read asynq queues: %w", err)
	}
	var members []member
	for _, rd := range reads {
		expired := map[string]bool{}
		if zs, err := rd.lease.Result(); err == nil {
			for _, z := range zs {
				if id, ok := z.Member.(string); ok {
					expired[id] = true
				}
			}
		}
		for _, l := range []struct {
			cmd *redis.StringSliceCmd
			st  state
		}{{rd.pending, stPending}, {rd.active, stActive}} {
			ids, err := l.cmd.Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for _, id := range ids {
				st := l.st
				if st == stActive && expired[id] {
					st = stOrphaned
				}
				members = append(members, member{q: rd.q, id: id, st: st})
			}
		}
		for _, z := range []struct {
			cmd *redis.ZSliceCmd
			st  state
		}{{rd.sched, stScheduled}, {rd.retry, stRetry}, {rd.arch, stArchived}, {rd.complete, stCompleted}} {
			zs, err := z.cmd.Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for _, m := range zs {
				if id, ok := m.Member.(string); ok {
					members = append(members, member{q: rd.q, id: id, st: z.st, score: m.Score})
				}
			}
		}
	}
	workers, err := a.workers(ctx, r, workerKeys, now)
	if err != nil {
		return err
	}
	a.checkOverflow(members)
	err = a.observe(ctx, r, members, workers, emit)
	if err == nil {
		for _, q := range queues {
			a.polled[q] = true
		}
		a.anyPolled = true
	}
	return err
}

// workers reads the in-flight tasks of live servers (asynq:workers, scored by expiry).
func (a *Adapter) workers(ctx context.Context, r adapter.Reader, keys *redis.ZSliceCmd, now time.Time) (map[string]workerInfo, error) {
	zs, err := keys.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if len(zs) == 0 {
		return nil, nil
	}
	p := r.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, 0, len(zs))
	names := make([]string, 0, len(zs))
	for _, z := range zs {
		k, ok := z.Member.(string)
		if !ok || z.Score < float64(now.Unix()) {
			continue // expired heartbeat: the server is gone
		}
		cmds = append(cmds, p.HGetAll(ctx, k))
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(k, allWorkers+":{"), "}"))
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read asynq workers: %w", err)
	}
	out := map[string]workerInfo{}
	for i, c := range cmds {
		for id, raw := range c.Val() {
			out[id] = workerInfo{worker: names[i], started: decodeWorkerStart([]byte(raw))}
		}
	}
	return out, nil
}

func (a *Adapter) observe(ctx context.Context, r adapter.Reader, members []member, workers map[string]workerInfo, emit func(*adapter.Observation)) error {
	type read struct {
		m   member
		key string
		msg *redis.SliceCmd
	}
	var reads []read
	p := r.Pipeline()
	clear(a.listing)
	for _, m := range members {
		key := memberKey(m)
		fresh := false
		if m.st == stPending || m.st == stActive || m.st == stOrphaned {
			lk := m.q + "\x00" + m.id
			a.listing[lk] = m.st
			fresh = a.listed[lk] != m.st
		}
		if obs, ok := a.cache.Get(key); ok && !fresh {
			a.emitAll(obs, m, workers, emit)
			continue
		}
		reads = append(reads, read{m: m, key: key, msg: p.HMGet(ctx, keyPrefix+"{"+m.q+"}:t:"+m.id, "msg", "state")})
	}
	if len(reads) == 0 {
		a.listed, a.listing = a.listing, a.listed
		return nil
	}
	if err := p.Exec(ctx); err != nil {
		return fmt.Errorf("read asynq task messages: %w", err)
	}
	for _, rd := range reads {
		vals, err := rd.msg.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		msgStr, ok := vals[0].(string)
		if !ok {
			continue // gone between the two reads (deleted on success, or expired): next poll knows
		}
		raw := []byte(msgStr)
		// The hash's state is written with msg by asynq's scripts; the listing was read a round
		// trip earlier. When the task moved on in between, the hash is the truth, and the
		// observation is not cached under the listing's key.
		st, stale := rd.m.st, false
		if hs, ok := vals[1].(string); ok {
			if cur, known := hashStates[hs]; known && cur != st && !(st == stOrphaned && cur == stActive) {
				st, stale = cur, true
			}
		}
		if len(raw) > a.s.MaxPayloadSize {
			a.badOnce(rd.m, raw, "oversized")
			a.cache.Add(rd.key, nil)
			continue
		}
		m, err := DecodeTaskMessage(raw)
		if err != nil {
			a.badOnce(rd.m, raw, reasonUndecodable)
			a.s.Logger.Debug("skipping undecodable asynq task message", zap.String("queue", rd.m.q), zap.String("id", rd.m.id), zap.Error(err))
			a.cache.Add(rd.key, nil)
			continue
		}
		obs := observations(st, m, rd.m.q)
		if a.history(rd.m.q, st, m) {
			obs = nil // finished before the receiver started, in a queue it found later
		}
		if !stale {
			a.cache.Add(rd.key, obs)
		}
		a.emitAll(obs, rd.m, workers, emit)
	}
	a.listed, a.listing = a.listing, a.listed
	return nil
}

func (a *Adapter) badOnce(m member, raw []byte, reason string) {
	h := xxhash.Sum64String(m.q + "\x00" + m.id + "\x00" + reason + "\x00" + string(raw))
	if !a.badSeen.Contains(h) {
		a.badSeen.Add(h, struct{}{})
		a.s.Bad(reason)
	}
}

// history: a task of a queue first read after the first Poll that finished before it.
func (a *Adapter) history(q string, st state, m *TaskMessage) bool {
	if !a.anyPolled || a.polled[q] {
		return false
	}
	var done int64
	switch st {
	case stCompleted:
		done = m.CompletedAt
	case stArchived:
		done = m.LastFailedAt
	default:
		return false
	}
	return done > 0 && done < a.start.Add(-historySkew).Unix() // completed_at is asynq's clock
}

func memberKey(m member) string {
	return m.q + "\x00" + m.id + "\x00" + strconv.Itoa(int(m.st)) + "\x00" + strconv.FormatFloat(m.score, 'f', -1, 64)
}

// checkOverflow reports a finished set whose whole window is new since the last poll: more
// tasks finished between two polls than the window holds, so some may never be read.
func (a *Adapter) checkOverflow(members []member) {
	if a.s.Overflow == nil {
		return
	}
	type key struct {
		q  string
		st state
	}
	total, fresh := map[key]int{}, map[key]int{}
	for _, m := range members {
		if m.st != stCompleted && m.st != stArchived {
			continue
		}
		k := key{m.q, m.st}
		total[k]++
		if !a.cache.Contains(memberKey(m)) {
			fresh[k]++
		}
	}
	for k, n := range total {
		window := a.s.Windows.Finished
		name := "completed"
		if k.st == stArchived {
			window, name = a.s.Windows.Dead, "archived"
		}
		if a.polled[k.q] && n >= max(window, 1) && fresh[k] == n {
			a.s.Overflow(keyPrefix + "{" + k.q + "}:" + name)
		}
	}
}

func (a *Adapter) emitAll(obs []adapter.Observation, m member, workers map[string]workerInfo, emit func(*adapter.Observation)) {
	for i := range obs {
		o := obs[i]
		if o.State == adapter.Active {
			if w, ok := workers[m.id]; ok {
				o.Worker, o.Started = w.worker, w.started
			}
		}
		emit(&o)
	}
}

// observations derives every attempt one task message proves; attempt numbers are 1-based, so
// a message with retried = n ran n failed attempts before the current one.
func observations(st state, m *TaskMessage, q string) []adapter.Observation {
	var carrier map[string]any
	if len(m.Headers) > 0 {
		carrier = make(map[string]any, len(m.Headers))
		for k, v := range m.Headers {
			carrier[k] = v
		}
	}
	if m.Queue != "" {
		q = m.Queue
	}
	base := adapter.Observation{ID: m.ID, Queue: q, Type: m.Type, Carrier: carrier}
	n := int(m.Retried)
	failed := func(state adapter.State, attempt int) adapter.Observation {
		o := base
		o.State, o.Attempt = state, attempt
		if m.ErrorMsg != "" {
			o.Error = &adapter.Error{Message: m.ErrorMsg}
		}
		if m.LastFailedAt > 0 {
			o.Ended = time.Unix(m.LastFailedAt, 0)
		}
		return o
	}
	var out []adapter.Observation
	// The attempts before the last failed one: retried, their errors not kept by asynq.
	last := n
	if st == stArchived {
		last = n + 1
	}
	for k := 1; k < last; k++ {
		o := base
		o.State, o.Attempt = adapter.RetryWait, k
		out = append(out, o)
	}
	if n > 0 && st != stArchived {
		if st == stRetry && m.ErrorMsg == ErrLeaseExpired {
			out = append(out, failed(adapter.Lost, n))
		} else {
			out = append(out, failed(adapter.RetryWait, n))
		}
	}
	o := base
	o.Attempt = n + 1
	switch st {
	case stPending:
		o.State = adapter.Pending
	case stActive:
		o.State = adapter.Active
	case stOrphaned:
		// asynq's own view: the task's lease expired, so its worker is lost; the recoverer
		// will later retry or archive it with ErrLeaseExpired (the same attempt).
		o.State = adapter.Lost
		o.Error = &adapter.Error{Message: ErrLeaseExpired}
	case stScheduled:
		o.State = adapter.Scheduled
	case stRetry:
		return out
	case stArchived:
		o = failed(adapter.Dead, n+1)
	case stCompleted:
		o.State = adapter.Succeeded
		if m.CompletedAt > 0 {
			o.Ended = time.Unix(m.CompletedAt, 0)
		}
	}
	return append(out, o)
}

// decodeWorkerStart reads start_time (field 8, a google.protobuf.Timestamp) of asynq's
// WorkerInfo; zero when absent or malformed.
func decodeWorkerStart(b []byte) time.Time {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return time.Time{}
		}
		b = b[n:]
		if num == 8 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return time.Time{}
			}
			return decodeTimestamp(v)
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return time.Time{}
		}
		b = b[n:]
	}
	return time.Time{}
}

func decodeTimestamp(b []byte) time.Time {
	var sec, nsec int64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.VarintType {
			return time.Time{}
		}
		b = b[n:]
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return time.Time{}
		}
		b = b[n:]
		switch num {
		case 1:
			sec = int64(v)
		case 2:
			nsec = int64(v)
		}
	}
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, nsec)
}
