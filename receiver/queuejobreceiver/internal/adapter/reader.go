package adapter // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
)

// ReadCmds are the only Redis commands an adapter can send. Each is a read command of Redis's
// @read category (plus PING), so an ACL user with `-@all +@read +ping` suffices; see README.
// XRead never blocks: Block is forced to "no BLOCK argument".
type ReadCmds interface {
	Get(ctx context.Context, key string) *redis.StringCmd
	MGet(ctx context.Context, keys ...string) *redis.SliceCmd
	Exists(ctx context.Context, keys ...string) *redis.IntCmd
	Type(ctx context.Context, key string) *redis.StatusCmd
	PTTL(ctx context.Context, key string) *redis.DurationCmd
	LRange(ctx context.Context, key string, start, stop int64) *redis.StringSliceCmd
	LLen(ctx context.Context, key string) *redis.IntCmd
	SMembers(ctx context.Context, key string) *redis.StringSliceCmd
	SScan(ctx context.Context, key string, cursor uint64, match string, count int64) *redis.ScanCmd
	SIsMember(ctx context.Context, key string, member any) *redis.BoolCmd
	ZCard(ctx context.Context, key string) *redis.IntCmd
	ZScore(ctx context.Context, key, member string) *redis.FloatCmd
	ZMScore(ctx context.Context, key string, members ...string) *redis.FloatSliceCmd
	ZRangeWithScores(ctx context.Context, key string, start, stop int64) *redis.ZSliceCmd
	ZRevRangeWithScores(ctx context.Context, key string, start, stop int64) *redis.ZSliceCmd
	ZRangeByScoreWithScores(ctx context.Context, key string, opt *redis.ZRangeBy) *redis.ZSliceCmd
	ZRevRangeByScoreWithScores(ctx context.Context, key string, opt *redis.ZRangeBy) *redis.ZSliceCmd
	HGet(ctx context.Context, key, field string) *redis.StringCmd
	HMGet(ctx context.Context, key string, fields ...string) *redis.SliceCmd
	HGetAll(ctx context.Context, key string) *redis.MapStringStringCmd
	HLen(ctx context.Context, key string) *redis.IntCmd
	HKeys(ctx context.Context, key string) *redis.StringSliceCmd
	HScan(ctx context.Context, key string, cursor uint64, match string, count int64) *redis.ScanCmd
	XLen(ctx context.Context, stream string) *redis.IntCmd
	XRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd
	XRevRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd
	XRead(ctx context.Context, a *redis.XReadArgs) *redis.XStreamSliceCmd
	// XInfoStream: entries-added and length tell a reader whether a stream was trimmed past
	// the last entry it read (BullMQ's events stream).
	XInfoStream(ctx context.Context, stream string) *redis.XInfoStreamCmd
}

// Reader is the read-only Redis handle an adapter polls through.
type Reader interface {
	ReadCmds
	// Pipeline queues read commands and sends them in one round trip on Exec.
	Pipeline() Pipe
	// Scan runs one bounded step of a SCAN MATCH walk whose cursor persists in c across polls
	// (one cursor per master in Redis Cluster). It returns the keys found this step.
	Scan(ctx context.Context, c *Cursor, match string, count int64, calls int) ([]string, error)
}

// Pipe is a pipeline of read commands.
type Pipe interface {
	ReadCmds
	Exec(ctx context.Context) error
}

// Cursor is a SCAN position kept between polls. Wrapped counts completed passes over the
// keyspace, so an adapter can tell when it has seen every key once.
type Cursor struct {
	pos     uint64
	perNode map[string]uint64
	Wrapped int
}

// ReadOnly wraps a go-redis client. The returned Reader exposes nothing but the methods above:
// an adapter cannot reach the client's write commands, even by type assertion.
func ReadOnly(c redis.UniversalClient) Reader { return &roClient{ro: ro{c: c}, u: c} }

type ro struct{ c redis.Cmdable }

type roClient struct {
	ro
	u redis.UniversalClient
}

type roPipe struct {
	ro
	p redis.Pipeliner
}

func (r *roClient) Pipeline() Pipe {
	p := r.u.Pipeline()
	return &roPipe{ro: ro{c: p}, p: p}
}

// Exec sends the queued commands. A missing key (redis.Nil) is not an error of the pipeline;
// each command reports it itself.
func (p *roPipe) Exec(ctx context.Context) error {
	_, err := p.p.Exec(ctx)
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

func (r *roClient) Scan(ctx context.Context, c *Cursor, match string, count int64, calls int) ([]string, error) {
	if cc, ok := r.u.(*redis.ClusterClient); ok {
		return scanCluster(ctx, cc, c, match, count, calls)
	}
	var keys []string
	for range max(calls, 1) {
		ks, next, err := r.u.Scan(ctx, c.pos, match, count).Result()
		if err != nil {
			return keys, err
		}
		keys = append(keys, ks...)
		c.pos = next
		if next == 0 {
			c.Wrapped++
			break
		}
	}
	return keys, nil
}

func scanCluster(ctx context.Context, cc *redis.ClusterClient, c *Cursor, match string, count int64, calls int) ([]string, error) {
	var mu sync.Mutex
	if c.perNode == nil {
		c.perNode = map[string]uint64{}
	}
	var keys []string
	wrappedAll := true
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		addr := n.Options().Addr
		mu.Lock()
		cur := c.perNode[addr]
		mu.Unlock()
		wrapped := false
		for range max(calls, 1) {
			ks, next, err := n.Scan(ctx, cur, match, count).Result()
			if err != nil {
				return err
			}
			cur = next
			mu.Lock()
			keys = append(keys, ks...)
			mu.Unlock()
			if next == 0 {
				wrapped = true
				break
			}
		}
		mu.Lock()
		c.perNode[addr] = cur
		wrappedAll = wrappedAll && wrapped
		mu.Unlock()
		return nil
	})
	if err == nil && wrappedAll {
		c.Wrapped++
	}
	return keys, err
}

func (r ro) Get(ctx context.Context, key string) *redis.StringCmd { return r.c.Get(ctx, key) }
func (r ro) MGet(ctx context.Context, keys ...string) *redis.SliceCmd {
	return r.c.MGet(ctx, keys...)
}
func (r ro) Exists(ctx context.Context, keys ...string) *redis.IntCmd {
	return r.c.Exists(ctx, keys...)
}
func (r ro) Type(ctx context.Context, key string) *redis.StatusCmd { return r.c.Type(ctx, key) }
func (r ro) PTTL(ctx context.Context, key string) *redis.DurationCmd {
	return r.c.PTTL(ctx, key)
}
func (r ro) LRange(ctx context.Context, key string, start, stop int64) *redis.StringSliceCmd {
	return r.c.LRange(ctx, key, start, stop)
}
func (r ro) LLen(ctx context.Context, key string) *redis.IntCmd { return r.c.LLen(ctx, key) }
func (r ro) SMembers(ctx context.Context, key string) *redis.StringSliceCmd {
	return r.c.SMembers(ctx, key)
}
func (r ro) SScan(ctx context.Context, key string, cursor uint64, match string, count int64) *redis.ScanCmd {
	return r.c.SScan(ctx, key, cursor, match, count)
}
func (r ro) SIsMember(ctx context.Context, key string, member any) *redis.BoolCmd {
	return r.c.SIsMember(ctx, key, member)
}
func (r ro) ZCard(ctx context.Context, key string) *redis.IntCmd { return r.c.ZCard(ctx, key) }
func (r ro) ZScore(ctx context.Context, key, member string) *redis.FloatCmd {
	return r.c.ZScore(ctx, key, member)
}
func (r ro) ZMScore(ctx context.Context, key string, members ...string) *redis.FloatSliceCmd {
	return r.c.ZMScore(ctx, key, members...)
}
func (r ro) ZRangeWithScores(ctx context.Context, key string, start, stop int64) *redis.ZSliceCmd {
	return r.c.ZRangeWithScores(ctx, key, start, stop)
}
func (r ro) ZRevRangeWithScores(ctx context.Context, key string, start, stop int64) *redis.ZSliceCmd {
	return r.c.ZRevRangeWithScores(ctx, key, start, stop)
}
func (r ro) ZRangeByScoreWithScores(ctx context.Context, key string, opt *redis.ZRangeBy) *redis.ZSliceCmd {
	return r.c.ZRangeByScoreWithScores(ctx, key, opt)
}
func (r ro) ZRevRangeByScoreWithScores(ctx context.Context, key string, opt *redis.ZRangeBy) *redis.ZSliceCmd {
	return r.c.ZRevRangeByScoreWithScores(ctx, key, opt)
}
func (r ro) HGet(ctx context.Context, key, field string) *redis.StringCmd {
	return r.c.HGet(ctx, key, field)
}
func (r ro) HMGet(ctx context.Context, key string, fields ...string) *redis.SliceCmd {
	return r.c.HMGet(ctx, key, fields...)
}
func (r ro) HGetAll(ctx context.Context, key string) *redis.MapStringStringCmd {
	return r.c.HGetAll(ctx, key)
}
func (r ro) HLen(ctx context.Context, key string) *redis.IntCmd { return r.c.HLen(ctx, key) }
func (r ro) HKeys(ctx context.Context, key string) *redis.StringSliceCmd {
	return r.c.HKeys(ctx, key)
}
func (r ro) HScan(ctx context.Context, key string, cursor uint64, match string, count int64) *redis.ScanCmd {
	return r.c.HScan(ctx, key, cursor, match, count)
}
func (r ro) XLen(ctx context.Context, stream string) *redis.IntCmd { return r.c.XLen(ctx, stream) }
func (r ro) XRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd {
	return r.c.XRangeN(ctx, stream, start, stop, count)
}
func (r ro) XRevRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd {
	return r.c.XRevRangeN(ctx, stream, start, stop, count)
}

func (r ro) XInfoStream(ctx context.Context, stream string) *redis.XInfoStreamCmd {
	return r.c.XInfoStream(ctx, stream)
}

// XRead never blocks: a BLOCK would hold a pooled connection and stall the poll loop.
func (r ro) XRead(ctx context.Context, a *redis.XReadArgs) *redis.XStreamSliceCmd {
	b := *a
	b.Block = -1
	return r.c.XRead(ctx, &b)
}
