// Command queuejob is the queuejob receiver's load harness: it starts a private redis-server,
// runs the receiver in-process, drives jobsim at a target completion rate for a bounded time,
// and reports whether the receiver kept up (every finished attempt emitted as a span).
//
//	go run ./test/load/queuejob -duration 10s -rate 6000
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/jobtrace/jobtrace/internal/jobsim"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver"
)

type result struct {
	Duration        string  `json:"duration"`
	Batch           int     `json:"jobsim_batch"`
	TargetRate      float64 `json:"target_rate"`
	Enqueued        int     `json:"enqueued"`
	Completed       int     `json:"completed"`
	DeadLettered    int     `json:"dead_lettered"`
	Retried         int     `json:"retried"`
	CompletionsPerS float64 `json:"jobsim_completions_per_s"`
	ExpectedSpans   int     `json:"expected_spans"`
	Spans           int64   `json:"receiver_spans"`
	Logs            int64   `json:"receiver_logs"`
	SpansPerS       float64 `json:"receiver_spans_per_s"`
	CatchUp         string  `json:"catch_up_after_jobsim"`
	KeptUp          bool    `json:"kept_up"`
}

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long jobsim produces (bounded to 5m)")
	rate := flag.Float64("rate", 6000, "jobs enqueued per second")
	workers := flag.Int("workers", 64, "jobsim worker slots")
	fail := flag.Float64("fail-ratio", 0.02, "jobsim failure ratio")
	poll := flag.Duration("poll", 250*time.Millisecond, "receiver poll_interval")
	batch := flag.Int("batch", 16, "jobs a jobsim worker claims per round trip (1: one at a time like upstream)")
	catchUp := flag.Duration("catch-up", 10*time.Second, "how long the receiver may lag behind jobsim's end")
	flag.Parse()
	if *duration <= 0 || *duration > 5*time.Minute {
		fmt.Fprintln(os.Stderr, "duration: must be in (0, 5m]")
		os.Exit(2)
	}
	res, err := run(*duration, *rate, *workers, *batch, *fail, *poll, *catchUp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(out))
	if !res.KeptUp {
		os.Exit(1)
	}
}

type counter struct {
	spans, logs atomic.Int64
}

func (c *counter) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (c *counter) ConsumeTraces(_ context.Context, td ptrace.Traces) error {
	c.spans.Add(int64(td.SpanCount()))
	return nil
}
func (c *counter) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	c.logs.Add(int64(ld.LogRecordCount()))
	return nil
}

func run(duration time.Duration, rate float64, workers, batch int, fail float64, poll, catchUp time.Duration) (*result, error) {
	addr, stop, err := startRedis()
	if err != nil {
		return nil, err
	}
	defer stop()

	f := queuejobreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*queuejobreceiver.Config)
	cfg.Endpoint = addr
	cfg.PollInterval = poll
	set := receivertest.NewNopSettings(f.Type())
	c := &counter{}
	ctx := context.Background()
	tr, err := f.CreateTraces(ctx, set, cfg, c)
	if err != nil {
		return nil, err
	}
	lr, err := f.CreateLogs(ctx, set, cfg, c)
	if err != nil {
		return nil, err
	}
	host := componenttest.NewNopHost()
	if err := tr.Start(ctx, host); err != nil {
		return nil, err
	}
	if err := lr.Start(ctx, host); err != nil {
		return nil, err
	}
	defer func() { _ = tr.Shutdown(ctx); _ = lr.Shutdown(ctx) }()
	time.Sleep(2 * poll) // first poll is the baseline

	sc := jobsim.DefaultConfig()
	sc.Redis = addr
	sc.Jobs = int(rate * duration.Seconds())
	sc.Rate = rate
	sc.Workers = workers
	sc.FailRatio = fail
	sc.WorkTime = 0
	sc.Batch = batch
	sc.Duration = duration + 30*time.Second
	start := time.Now()
	sum, err := jobsim.Run(ctx, sc)
	if err != nil {
		return nil, err
	}
	simEnd := time.Now()
	expected := 0
	for _, j := range sum.Jobs {
		if j.Outcome == jobsim.Succeeded || j.Outcome == jobsim.DeadLettered {
			expected += len(j.Attempts)
		}
	}
	deadline := simEnd.Add(catchUp)
	for time.Now().Before(deadline) && c.spans.Load() < int64(expected) {
		time.Sleep(10 * time.Millisecond)
	}
	caughtUp := time.Since(simEnd)
	res := &result{
		Duration: duration.String(), Batch: batch, TargetRate: rate, Enqueued: sum.Enqueued, Completed: sum.Completed,
		DeadLettered: sum.DeadLettered, Retried: sum.Retried,
		CompletionsPerS: float64(sum.Final()) / simEnd.Sub(start).Seconds(),
		ExpectedSpans:   expected, Spans: c.spans.Load(), Logs: c.logs.Load(),
		SpansPerS: float64(c.spans.Load()) / time.Since(start).Seconds(),
		CatchUp:   caughtUp.Round(time.Millisecond).String(),
	}
	res.KeptUp = res.Spans == int64(expected)
	return res, nil
}

// startRedis runs a private, persistence-free redis-server on a free loopback port.
func startRedis() (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("redis-server not on PATH: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "queuejob-load-")
	if err != nil {
		return "", nil, err
	}
	conf := filepath.Join(dir, "redis.conf")
	body := fmt.Sprintf("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly no\ndir %s\nlogfile %s\n", port, dir, filepath.Join(dir, "redis.log"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, conf)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = os.RemoveAll(dir) }
	for i := 0; i < 500; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return addr, stop, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on %s did not start", addr)
}
