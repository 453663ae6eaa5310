package tailstreamextension

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/victorialogstest"
)

const (
	benchJobs        = 100_000
	benchLinesPerJob = 10 // 3 lifecycle logs + 7 worker lines: 1M lines
)

// pushBenchData writes benchJobs jobs' lines into VictoriaLogs, spread over the last 50
// minutes, as the durable overlay's exporter would.
func pushBenchData(b *testing.B, vl *victorialogstest.Server) time.Duration {
	start := time.Now()
	base := time.Now().Add(-50 * time.Minute)
	step := 50 * time.Minute / benchJobs
	const batchJobs = 2000
	for j0 := 0; j0 < benchJobs; j0 += batchJobs {
		ld := plog.NewLogs()
		for j := j0; j < j0+batchJobs; j++ {
			queue := []string{"high_priority", "low_priority"}[j%2]
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", "jobqueue")
			sl := rl.ScopeLogs().AppendEmpty()
			id := fmt.Sprintf("job-%06d", j)
			tr := pcommon.TraceID{byte(j >> 16), byte(j >> 8), byte(j), 1}
			t0 := base.Add(time.Duration(j) * step)
			for k := 0; k < benchLinesPerJob; k++ {
				lr := sl.LogRecords().AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(k) * time.Millisecond)))
				lr.SetTraceID(tr)
				lr.SetSeverityNumber(plog.SeverityNumberInfo)
				a := lr.Attributes()
				a.PutStr(conventions.AttrJobID, id)
				a.PutStr(conventions.AttrQueueName, queue)
				a.PutStr(conventions.AttrWorkerID, "host-1-1-abcd-0")
				switch k {
				case 0, 1, benchLinesPerJob - 1:
					ev := map[int]string{0: conventions.EventJobEnqueued, 1: conventions.EventJobStarted, benchLinesPerJob - 1: conventions.EventJobSucceeded}[k]
					lr.SetEventName(ev)
					a.PutStr(conventions.AttrEventName, ev)
					a.PutInt(conventions.AttrJobAttempt, 1)
					lr.Body().SetStr(ev)
				default:
					lr.Body().SetStr(fmt.Sprintf("processing %s step %d", id, k))
				}
			}
		}
		vl.Push(ld)
	}
	vl.Flush()
	return time.Since(start)
}

// BenchmarkStore measures the durable tier against a real VictoriaLogs holding 1M lines of
// 100k jobs: a job's history through /logs/history (the ring holds none of it), and the
// catalog warm-up of all 100k jobs. Needs bin/victoria-logs (make victorialogs).
func BenchmarkStore(b *testing.B) {
	vl := victorialogstest.Start(b)
	took := pushBenchData(b, vl)
	b.Logf("ingested %d lines in %s", benchJobs*benchLinesPerJob, took)
	// Searchable once the flushed parts are visible.
	st, err := (&StoreConfig{Logs: LogStoreConfig{Type: "victorialogs", Endpoint: vl.URL, Timeout: time.Minute}}).newLogStore()
	if err != nil {
		b.Fatal(err)
	}
	newExt := func(maxJobs int) *tailstream {
		cfg := createDefaultConfig().(*Config)
		cfg.NetAddr.Endpoint = "127.0.0.1:0"
		cfg.JobCatalog.MaxJobs = maxJobs
		cfg.Store = StoreConfig{Logs: LogStoreConfig{Type: "victorialogs", Endpoint: vl.URL, Timeout: time.Minute}, WarmWindow: -1, WarmMaxJobs: maxJobs}
		set := extensiontest.NewNopSettings(typ)
		set.Logger = zap.NewNop()
		ext := newTailstream(cfg, set)
		ext.store.logs = st
		return ext
	}

	b.Run("history_of_one_job_among_1M_lines", func(b *testing.B) {
		ext := newExt(10_000)
		if err := ext.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = ext.Shutdown(context.Background()) }()
		base := "http://" + ext.Addr() + "/api/v1/logs/history?limit=100&job_id="
		rng := rand.New(rand.NewPCG(1, 2))
		b.ResetTimer()
		lines := 0
		for i := 0; i < b.N; i++ {
			resp, err := http.Get(base + fmt.Sprintf("job-%06d", rng.IntN(benchJobs)))
			if err != nil {
				b.Fatal(err)
			}
			var h historyAnswer
			if err := decodeJSON(resp, &h); err != nil {
				b.Fatal(err)
			}
			lines += len(h.Entries)
		}
		b.ReportMetric(float64(lines)/float64(b.N), "lines/op")
		if lines != b.N*benchLinesPerJob {
			b.Fatalf("got %d lines for %d jobs, want %d each", lines, b.N, benchLinesPerJob)
		}
	})

	b.Run("warm_catalog_100k_jobs", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ext := newExt(benchJobs)
			ext.store.stop = make(chan struct{})
			ext.warmCatalog(time.Hour)
			if n := ext.store.warmJobs.Load(); n != benchJobs {
				b.Fatalf("warmed %d jobs, want %d (error %v)", n, benchJobs, ext.store.warmErr.Load())
			}
			b.ReportMetric(float64(ext.store.warmLines.Load()), "lines/op")
			close(ext.store.stop)
		}
	})
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
