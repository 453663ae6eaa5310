package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"
)

// queueJobReceiver currently only keeps a connection to Redis alive; job observation lands
// with the receiver issue.
type queueJobReceiver struct {
	cfg      *Config
	settings receiver.Settings

	client *redis.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newQueueJobReceiver(cfg *Config, set receiver.Settings) *queueJobReceiver {
	return &queueJobReceiver{cfg: cfg, settings: set}
}

func (r *queueJobReceiver) Start(_ context.Context, host component.Host) error {
	r.client = redis.NewClient(&redis.Options{
		Addr:     r.cfg.Endpoint,
		Username: r.cfg.Username,
		Password: string(r.cfg.Password),
		DB:       r.cfg.DB,
	})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.watchConnection(ctx, host)
	}()
	return nil
}

// watchConnection pings Redis with backoff so an unreachable queue is reported, not fatal.
func (r *queueJobReceiver) watchConnection(ctx context.Context, host component.Host) {
	backoff := r.cfg.PollInterval
	up := false
	for {
		err := r.client.Ping(ctx).Err()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if up || backoff == r.cfg.PollInterval {
				r.settings.Logger.Warn("cannot reach Redis; retrying with backoff",
					zap.String("endpoint", r.cfg.Endpoint), zap.Error(err))
				componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(err))
			}
			up = false
			backoff = min(backoff*2, 30*time.Second)
		default:
			if !up {
				r.settings.Logger.Info("connected to Redis", zap.String("endpoint", r.cfg.Endpoint))
				componentstatus.ReportStatus(host, componentstatus.NewEvent(componentstatus.StatusOK))
			}
			up = true
			backoff = r.cfg.PollInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

func (r *queueJobReceiver) Shutdown(context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	if r.client != nil {
		return r.client.Close()
	}
	return nil
}
