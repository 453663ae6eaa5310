package backends // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"

import (
	"context"
	"errors"
	"sync"
	"time"
)

// prober remembers a backend's last reachability probe, so that health checks answer from it
// and reach the backend at most once per interval however often they are called: a health
// endpoint any viewer can poll must not become a way to make the collector send requests.
type prober struct {
	mu     sync.Mutex // held during a probe: concurrent callers wait for its result
	at     time.Time
	ok     bool
	probed bool
}

// ProbeEvery reports whether the backend is reachable, probing it (with the breaker's leave,
// see Probe) only when the last probe is older than every; otherwise the last result. at is
// when that result was taken; known is false before any probe.
func (b *Backend) ProbeEvery(ctx context.Context, every, timeout time.Duration) (reachable bool, at time.Time, known bool) {
	p := &b.probe
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.probed && time.Since(p.at) < every {
		return p.ok, p.at, true
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	err := b.Probe(pctx)
	cancel()
	if errors.Is(err, ErrCircuitOpen) {
		// Not probed: the breaker says the backend is down and is not to be asked yet.
		return false, time.Now(), true
	}
	p.at, p.ok, p.probed = time.Now(), err == nil, true
	return p.ok, p.at, true
}
