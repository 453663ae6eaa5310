package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// keyPattern is a key with one {worker_id} placeholder.
type keyPattern struct{ prefix, suffix string }

func newKeyPattern(p string) keyPattern {
	i := strings.Index(p, workerIDPlaceholder)
	if i < 0 {
		return keyPattern{}
	}
	return keyPattern{prefix: p[:i], suffix: p[i+len(workerIDPlaceholder):]}
}

func (k keyPattern) enabled() bool         { return k.prefix != "" || k.suffix != "" }
func (k keyPattern) key(wid string) string { return k.prefix + wid + k.suffix }
func (k keyPattern) glob() string          { return globEscape(k.prefix) + "*" + globEscape(k.suffix) }

// worker extracts the worker id from a key.
func (k keyPattern) worker(key string) (string, bool) {
	if len(key) <= len(k.prefix)+len(k.suffix) || !strings.HasPrefix(key, k.prefix) || !strings.HasSuffix(key, k.suffix) {
		return "", false
	}
	return key[len(k.prefix) : len(key)-len(k.suffix)], true
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

// scanner walks one SCAN MATCH stream a few calls per poll, keeping its cursor between polls.
type scanner struct {
	match  string
	cursor uint64
	// per master in cluster mode
	cursors map[string]uint64
}

// poller runs the read-only observation loop. Commands used: SCAN, LRANGE (bounded), PTTL,
// PING. Nothing else, so a Redis ACL user with +@read and +ping is enough.
type poller struct {
	cfg     Config // resolved
	rdb     redis.UniversalClient
	tr      *tracker
	fp      fieldPaths
	logger  *zap.Logger
	sampled *zap.Logger // bad-payload logs, rate-limited
	tel     *telemetry

	proc, hb    keyPattern
	procScan    scanner
	hbScan      scanner
	workers     *simplelru.LRU[string, time.Time] // worker id -> last seen with a key
	baselineSet bool
}

const workerForgetAfter = 10 * time.Minute

func (p *poller) discover(ctx context.Context, now time.Time) error {
	scans := []*scanner{}
	if p.proc.enabled() {
		scans = append(scans, &p.procScan)
	}
	if p.hb.enabled() {
		scans = append(scans, &p.hbScan)
	}
	for _, s := range scans {
		var keys []string
		var err error
		if cc, ok := p.rdb.(*redis.ClusterClient); ok {
			keys, err = p.scanCluster(ctx, cc, s)
		} else {
			for range p.cfg.Scan.CallsPerPoll {
				var ks []string
				ks, s.cursor, err = p.rdb.Scan(ctx, s.cursor, s.match, int64(p.cfg.Scan.Count)).Result()
				if err != nil {
					break
				}
				keys = append(keys, ks...)
				if s.cursor == 0 {
					break
				}
			}
		}
		if err != nil {
			return fmt.Errorf("SCAN %s: %w", s.match, err)
		}
		for _, k := range keys {
			wid, ok := p.proc.worker(k)
			if !ok {
				wid, ok = p.hb.worker(k)
			}
			if ok {
				p.workers.Add(wid, now)
			}
		}
	}
	return nil
}

// scanCluster spreads the per-poll SCAN budget over the masters, one cursor each.
func (p *poller) scanCluster(ctx context.Context, cc *redis.ClusterClient, s *scanner) ([]string, error) {
	if s.cursors == nil {
		s.cursors = map[string]uint64{}
	}
	var keys []string
	var mu = make(chan struct{}, 1)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		addr := c.Options().Addr
		mu <- struct{}{}
		cur := s.cursors[addr]
		<-mu
		for range p.cfg.Scan.CallsPerPoll {
			ks, next, err := c.Scan(ctx, cur, s.match, int64(p.cfg.Scan.Count)).Result()
			if err != nil {
				return err
			}
			mu <- struct{}{}
			keys = append(keys, ks...)
			<-mu
			cur = next
			if cur == 0 {
				break
			}
		}
		mu <- struct{}{}
		s.cursors[addr] = cur
		<-mu
		return nil
	})
	return keys, err
}

type procRead struct {
	wid   string
	items *redis.StringSliceCmd
	pttl  *redis.DurationCmd
}

// poll reads every list once and feeds the tracker. It returns the tracker's events.
func (p *poller) poll(ctx context.Context, now time.Time) ([]event, error) {
	if err := p.discover(ctx, now); err != nil {
		return nil, err
	}
	// Forget workers that have shown no key for a long time, oldest first.
	for {
		wid, seen, ok := p.workers.GetOldest()
		if !ok || now.Sub(seen) < workerForgetAfter {
			break
		}
		p.workers.Remove(wid)
	}

	pipe := p.rdb.Pipeline()
	var procs []procRead
	for _, wid := range p.workers.Keys() {
		if len(procs) >= p.cfg.MaxProcessingLists {
			break
		}
		r := procRead{wid: wid, items: pipe.LRange(ctx, p.proc.key(wid), 0, int64(p.cfg.Windows.Processing-1))}
		if p.hb.enabled() {
			r.pttl = pipe.PTTL(ctx, p.hb.key(wid))
		}
		procs = append(procs, r)
	}
	pending := make([]*redis.StringSliceCmd, len(p.cfg.Queues))
	for i, q := range p.cfg.Queues {
		pending[i] = pipe.LRange(ctx, q.Key, 0, int64(p.cfg.Windows.Pending-1))
	}
	type finished struct {
		key    string
		window int
		kind   eventKind
		first  *redis.StringSliceCmd
	}
	var fins []finished
	if p.cfg.Keys.DeadLetter != "" {
		fins = append(fins, finished{key: p.cfg.Keys.DeadLetter, window: p.cfg.Windows.DeadLetter, kind: evDeadLettered})
	}
	if p.cfg.Keys.Completed != "" {
		fins = append(fins, finished{key: p.cfg.Keys.Completed, window: p.cfg.Windows.Completed, kind: evSucceeded})
	}
	for i := range fins {
		fins[i].first = pipe.LRange(ctx, fins[i].key, 0, int64(min(p.cfg.Windows.Page, fins[i].window)-1))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read queue lists: %w", err)
	}

	// Processing first: a retry's new payload may already sit in a pending list while the
	// old one is still in the processing list, and the worker id comes from the latter.
	for _, r := range procs {
		items, err := r.items.Result()
		if err != nil {
			return nil, err
		}
		hbAlive := true
		if r.pttl != nil {
			d, err := r.pttl.Result()
			if err != nil {
				return nil, err
			}
			hbAlive = d != -2*time.Nanosecond && d != -2*time.Millisecond && d != -2
		}
		if len(items) > 0 || hbAlive && r.pttl != nil {
			p.workers.Add(r.wid, now)
		}
		// The processing list is LPUSHed by BRPOPLPUSH; its oldest item is at the tail.
		for i := len(items) - 1; i >= 0; i-- {
			if j, h, ok := p.parse(items[i], "processing"); ok {
				p.tr.seenProcessing(&j, h, r.wid, r.pttl != nil, hbAlive, now)
			}
		}
	}
	for i, cmd := range pending {
		items, err := cmd.Result()
		if err != nil {
			return nil, err
		}
		// Oldest first, so attempt order within a burst is kept.
		for k := len(items) - 1; k >= 0; k-- {
			if j, h, ok := p.parse(items[k], "pending"); ok {
				p.tr.seenPending(&j, h, p.cfg.Queues[i].Name, now)
			}
		}
	}
	for _, f := range fins {
		if err := p.readFinished(ctx, f.key, f.window, f.kind, f.first, now); err != nil {
			return nil, err
		}
	}
	p.tr.baseline = false
	return p.tr.take(), nil
}

// readFinished pages through a completed/dead-letter list from its head (newest first) until
// it meets an entry it has handled, or the window ends. New entries are then handled oldest
// first so a job's retries precede its success in the output.
func (p *poller) readFinished(ctx context.Context, key string, window int, kind eventKind, first *redis.StringSliceCmd, now time.Time) error {
	items, err := first.Result()
	if err != nil {
		return err
	}
	var fresh []string
	hitSeen := false
	offset := 0
	pages := 1
	for {
		// Pages arrive newest first; stop at the first entry already handled.
		for _, it := range items {
			if p.tr.seenFinishedHash(xxhash.Sum64String(it), kind) {
				hitSeen = true
				break
			}
			fresh = append(fresh, it)
		}
		offset += len(items)
		if hitSeen || len(items) < pages*p.cfg.Windows.Page || offset >= window {
			break
		}
		// Still all new: the list grew a lot since the last poll. Fetch twice as many pages
		// in one pipelined round trip each time, so a backlog costs log(n) round trips.
		pages *= 2
		pipe := p.rdb.Pipeline()
		var cmds []*redis.StringSliceCmd
		for k := 0; k < pages && offset+k*p.cfg.Windows.Page < window; k++ {
			from := offset + k*p.cfg.Windows.Page
			to := min(from+p.cfg.Windows.Page, window) - 1
			cmds = append(cmds, pipe.LRange(ctx, key, int64(from), int64(to)))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("LRANGE %s: %w", key, err)
		}
		items = items[:0:0]
		for _, c := range cmds {
			items = append(items, c.Val()...)
		}
		pages = len(cmds)
	}
	if !hitSeen && offset >= window && !p.tr.baseline {
		p.tel.overflow(ctx, kind)
		p.sampled.Warn("finished-job list grew past its window between polls; older entries may be missed",
			zap.String("key", key), zap.Int("window", window))
	}
	list := "completed"
	if kind == evDeadLettered {
		list = "dead_letter"
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		h := xxhash.Sum64String(fresh[i])
		j, ok := p.parseHashed(fresh[i], h, list)
		if !ok {
			p.tr.markFinishedHash(h, kind)
			continue
		}
		p.tr.seenFinished(&j, h, kind, now)
	}
	return nil
}

func (p *poller) parse(raw, list string) (job, uint64, bool) {
	h := xxhash.Sum64String(raw)
	j, ok := p.parseHashed(raw, h, list)
	return j, h, ok
}

// badSeen remembers rejected payloads so one bad entry sitting in a list is counted once.
func (p *poller) parseHashed(raw string, h uint64, list string) (job, bool) {
	j, err := parseJob(raw, p.cfg.MaxPayloadSize, &p.fp)
	if err == nil {
		return j, true
	}
	var pe *parseError
	reason := reasonNotJSON
	if errors.As(err, &pe) {
		reason = pe.reason
	}
	if p.tr.markOnce(h ^ 0xBADBADBADBADBAD) {
		p.tel.badPayload(context.Background(), reason)
		p.sampled.Warn("skipping unusable job payload", zap.String("list", list), zap.String("reason", reason),
			zap.Int("size", len(raw)), zap.String("head", safeHead(raw)), zap.Error(err))
	}
	return job{}, false
}

// safeHead quotes the first bytes of a payload for a log line without dumping binaries.
func safeHead(s string) string {
	const n = 64
	if len(s) > n {
		s = s[:n]
	}
	return fmt.Sprintf("%q", s)
}

// telemetry wraps the generated instruments with their attributes.
type telemetry struct {
	b interface {
		Shutdown()
	}
	jobsObserved, extractions, rejections, bad, emitted, pollsFailed, overflows metric.Int64Counter
	pollDuration                                                                metric.Float64Histogram
	eventAttrs                                                                  eventAttrs
}

func (t *telemetry) badPayload(ctx context.Context, reason string) {
	t.bad.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
}

// overflowOf counts an overflow an adapter reported, labelled by the structure it read.
func (t *telemetry) overflowOf(ctx context.Context, what string) {
	t.overflows.Add(ctx, 1, metric.WithAttributes(attribute.String("list", what)))
}

func (t *telemetry) overflow(ctx context.Context, kind eventKind) {
	list := "completed"
	if kind == evDeadLettered {
		list = "dead_letter"
	}
	t.overflows.Add(ctx, 1, metric.WithAttributes(attribute.String("list", list)))
}
