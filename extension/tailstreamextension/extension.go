package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

type tailstream struct {
	cfg      *Config
	settings extension.Settings

	server *http.Server
	wg     sync.WaitGroup
}

var _ Sink = (*tailstream)(nil)

func newTailstream(cfg *Config, set extension.Settings) *tailstream {
	return &tailstream{cfg: cfg, settings: set}
}

func (t *tailstream) Start(ctx context.Context, host component.Host) error {
	ln, err := t.cfg.ToListener(ctx)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	t.registerTraceRoutes(mux)
	t.server, err = t.cfg.ToServer(ctx, host.GetExtensions(), t.settings.TelemetrySettings, mux)
	if err != nil {
		_ = ln.Close()
		return err
	}
	t.settings.Logger.Info("tailstream API listening", zap.String("endpoint", ln.Addr().String()))
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if serr := t.server.Serve(ln); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			t.settings.Logger.Error("tailstream API server stopped", zap.Error(serr))
		}
	}()
	return nil
}

func (t *tailstream) Shutdown(ctx context.Context) error {
	if t.server == nil {
		return nil
	}
	err := t.server.Shutdown(ctx)
	t.wg.Wait()
	return err
}

func (t *tailstream) PublishLogs(_ context.Context, ld plog.Logs) error {
	t.ingestJobLogs(ld)
	return nil
}

func (t *tailstream) PublishTraces(_ context.Context, td ptrace.Traces) error {
	t.ingestTraces(td)
	return nil
}
