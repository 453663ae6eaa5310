// Package adaptertest drives a queue-library adapter the way the receiver does (one poll
// every few milliseconds, through the read-only Reader) and keeps what it observed, so adapter
// tests can compare it with the library's own view of its jobs.
package adaptertest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

// Settings are generous test windows.
func Settings(t testing.TB) adapter.Settings {
	return adapter.Settings{
		Windows:        adapter.Windows{Pending: 200, Active: 200, Retry: 200, Finished: 500, Dead: 500, Page: 100},
		Scan:           adapter.Scan{Count: 100, CallsPerPoll: 4},
		MaxPayloadSize: 1 << 20,
		Bad:            func(r string) { t.Errorf("bad payload: %s", r) },
	}
}

// Collector keeps every observation, by job id.
type Collector struct {
	mu  sync.Mutex
	obs map[string][]adapter.Observation
}

// Emit is the adapter's emit callback.
func (c *Collector) Emit(o *adapter.Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.obs == nil {
		c.obs = map[string][]adapter.Observation{}
	}
	c.obs[o.ID] = append(c.obs[o.ID], *o)
}

// Final is a job's outcome as its observations say.
type Final struct {
	State   adapter.State // the last terminal state observed
	Attempt int           // the attempt it happened on
	Errs    map[int]string
	Lost    map[int]bool
	Queue   string
	TraceID string // from the carrier's W3C traceparent
	Seen    map[adapter.State]bool
	Workers map[string]bool
}

// Final summarises job id's observations.
func (c *Collector) Final(id string) Final {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := Final{Errs: map[int]string{}, Lost: map[int]bool{}, Seen: map[adapter.State]bool{}, Workers: map[string]bool{}}
	for _, o := range c.obs[id] {
		f.Seen[o.State] = true
		f.Queue = o.Queue
		if o.Worker != "" {
			f.Workers[o.Worker] = true
		}
		if tp, ok := o.Carrier["traceparent"].(string); ok && f.TraceID == "" {
			if parts := strings.Split(tp, "-"); len(parts) == 4 {
				f.TraceID = parts[1]
			}
		}
		switch o.State {
		case adapter.Succeeded, adapter.Failed, adapter.Dead:
			f.State, f.Attempt = o.State, o.Attempt
		case adapter.Lost:
			f.Lost[o.Attempt] = true
		}
		if o.Error != nil && o.State != adapter.Succeeded {
			f.Errs[o.Attempt] = o.Error.Message
		}
	}
	return f
}

// Observations are job id's observations in emit order.
func (c *Collector) Observations(id string) []adapter.Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]adapter.Observation(nil), c.obs[id]...)
}

// IDs are the job ids observed.
func (c *Collector) IDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.obs))
	for id := range c.obs {
		out = append(out, id)
	}
	return out
}

// Poll polls ad every 20ms until the returned stop is called; stop polls once more, so
// everything written before it is read. A poll error fails the test.
func Poll(t testing.TB, ad adapter.Adapter, addr string, c *Collector) (stop func()) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	r := adapter.ReadOnly(rdb)
	ctx, cancel := context.WithCancel(context.Background())
	if err := ad.Poll(ctx, r, time.Now(), c.Emit); err != nil {
		t.Fatalf("first poll: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := ad.Poll(ctx, r, time.Now(), c.Emit); err != nil && ctx.Err() == nil {
					t.Errorf("poll: %v", err)
				}
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := ad.Poll(context.Background(), r, time.Now(), c.Emit); err != nil {
				t.Errorf("last poll: %v", err)
			}
			rdb.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}
