package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"fmt"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/celery"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/rq"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/sidekiq"
)

// libraries are the queue-library presets, one adapter each, in internal/adapters/<name>
// (the contract is internal/adapter's package doc). The preset's name is also the spans'
// messaging.system. The reference go-redis-work-queue and list layouts are not adapters: they
// keep their payload-hash poller (poller.go), whose dedup by payload suits lists of JSON copies.
var libraries = map[string]adapter.Factory{
	PresetSidekiq: sidekiq.New,
	PresetRQ:      rq.New,
	PresetCelery:  celery.New,
}

func presetNames() []string {
	names := []string{PresetGoRedisWorkQueue, PresetList}
	lib := make([]string, 0, len(libraries))
	for n := range libraries {
		lib = append(lib, n)
	}
	sort.Strings(lib)
	return append(names, lib...)
}

// adapterSettings is the resolved config as a library adapter sees it.
func (cfg *Config) adapterSettings(logger *zap.Logger, bad func(string)) adapter.Settings {
	s := adapter.Settings{
		Prefix: cfg.KeyPrefix, ResultPrefix: cfg.ResultKeyPrefix,
		Windows: adapter.Windows{
			Pending: cfg.Windows.Pending, Active: cfg.Windows.Active, Retry: cfg.Windows.Retry,
			Finished: cfg.Windows.Completed, Dead: cfg.Windows.DeadLetter, Page: cfg.Windows.Page,
		},
		Scan:           adapter.Scan{Count: cfg.Scan.Count, CallsPerPoll: cfg.Scan.CallsPerPoll},
		MaxPayloadSize: cfg.MaxPayloadSize,
		Logger:         logger,
		Bad:            bad,
	}
	if s.Logger == nil {
		s.Logger = zap.NewNop()
	}
	if s.Bad == nil {
		s.Bad = func(string) {}
	}
	for _, q := range cfg.Queues {
		s.Queues = append(s.Queues, q.Name)
	}
	return s
}

// validateLibrary checks what a library preset accepts; the adapter judges its own settings.
func (cfg *Config) validateLibrary(r *Config) []error {
	var errs []error
	for i, q := range cfg.Queues {
		if q.Key != "" {
			errs = append(errs, fmt.Errorf("queues[%d].key: preset %q derives keys from queue names; set name only", i, cfg.Preset))
		}
		if q.Priority != "" {
			errs = append(errs, fmt.Errorf("queues[%d].priority: not used by preset %q", i, cfg.Preset))
		}
	}
	k := cfg.Keys
	if k.Processing != "" || k.Heartbeat != "" || k.Completed != "" || k.DeadLetter != "" {
		errs = append(errs, fmt.Errorf("keys: not used by preset %q; set key_prefix", cfg.Preset))
	}
	f := cfg.Fields
	if f.ID != "" || f.Type != "" || f.Queue != "" || f.Attempt != "" || f.Priority != "" || f.CreatedAt != "" || f.AttemptOffset != nil {
		errs = append(errs, fmt.Errorf("fields: not used by preset %q: its adapter knows the library's encoding", cfg.Preset))
	}
	for _, p := range []struct{ key, v string }{{"key_prefix", cfg.KeyPrefix}, {"result_key_prefix", cfg.ResultKeyPrefix}} {
		if strings.ContainsAny(p.v, "*?[]\\") {
			errs = append(errs, fmt.Errorf("%s: must not contain glob characters (*?[]\\), got %q", p.key, p.v))
		}
	}
	if _, err := libraries[cfg.Preset](r.adapterSettings(nil, nil)); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	return errs
}
