package adapter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

func TestReadOnlyReader(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	for i := range 25 {
		require.NoError(t, c.Set(ctx, fmt.Sprintf("k:%02d", i), "v", 0).Err())
	}
	require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []string{"a", "1"}}).Err())

	r := ReadOnly(c)
	type writer interface {
		Set(ctx context.Context, key string, value any, exp time.Duration) *redis.StatusCmd
	}
	_, writable := any(r).(writer)
	require.False(t, writable, "the reader must not expose write commands")
	_, writable = any(r.Pipeline()).(writer)
	require.False(t, writable)

	// A blocking XREAD would stall the poll; the reader strips BLOCK even when asked for it.
	start := time.Now()
	res, err := r.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", "$"}, Block: 0, Count: 10}).Result()
	require.ErrorIs(t, err, redis.Nil)
	require.Empty(t, res)
	require.Less(t, time.Since(start), 2*time.Second)

	// The cursor carries across calls and counts its passes.
	var cur Cursor
	seen := map[string]bool{}
	for i := 0; cur.Wrapped == 0 && i < 100; i++ {
		keys, err := r.Scan(ctx, &cur, "k:*", 5, 1)
		require.NoError(t, err)
		for _, k := range keys {
			seen[k] = true
		}
	}
	require.Equal(t, 1, cur.Wrapped)
	require.Len(t, seen, 25)

	p := r.Pipeline()
	g := p.Get(ctx, "k:01")
	missing := p.Get(ctx, "nope")
	require.NoError(t, p.Exec(ctx))
	require.Equal(t, "v", g.Val())
	require.ErrorIs(t, missing.Err(), redis.Nil)
}
