// Command jobsim drives a simulated go-redis-work-queue (producer, workers, reaper) against a
// Redis server for demos, tests and the load harness. It writes only to the jobqueue:* keys
// (or --key-prefix) and never flushes anything.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobtrace/jobtrace/internal/jobsim"
)

func main() {
	cfg := jobsim.DefaultConfig()
	fs := flag.NewFlagSet("jobsim", flag.ExitOnError)
	fs.StringVar(&cfg.Redis, "redis", cfg.Redis, "Redis address host:port")
	fs.IntVar(&cfg.DB, "db", cfg.DB, "Redis database number")
	fs.StringVar(&cfg.Username, "username", cfg.Username, "Redis ACL user")
	fs.StringVar(&cfg.Password, "password", os.Getenv("JOBSIM_REDIS_PASSWORD"), "Redis password (default $JOBSIM_REDIS_PASSWORD)")
	fs.IntVar(&cfg.Jobs, "jobs", cfg.Jobs, "jobs to enqueue (0: until --duration)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "upper bound on the whole run")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "enqueues per second (0: as fast as possible)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent worker slots")
	fs.Float64Var(&cfg.FailRatio, "fail-ratio", cfg.FailRatio, "probability that an attempt fails")
	fs.Float64Var(&cfg.AbandonRatio, "abandon-ratio", cfg.AbandonRatio, "probability that a worker dies mid-attempt")
	fs.StringVar(&cfg.Carrier, "carrier", cfg.Carrier, "trace context carrier: upstream|w3c|b3|jaeger|xray|datadog")
	fs.StringVar(&cfg.LogFile, "log-file", cfg.LogFile, "append zap JSON worker/producer logs to this file")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	fs.DurationVar(&cfg.HeartbeatTTL, "heartbeat-ttl", cfg.HeartbeatTTL, "worker heartbeat TTL")
	fs.DurationVar(&cfg.ReaperInterval, "reaper-interval", cfg.ReaperInterval, "reaper scan interval (default heartbeat-ttl/4, at most 5s)")
	fs.DurationVar(&cfg.WorkTime, "work-time", cfg.WorkTime, "time one attempt takes")
	fs.DurationVar(&cfg.RetryBackoff, "retry-backoff", cfg.RetryBackoff, "time a failed job is held before it is re-pushed")
	fs.IntVar(&cfg.MaxRetries, "max-retries", cfg.MaxRetries, "retries before dead-lettering")
	fs.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", cfg.OTLPEndpoint, "OTLP/HTTP base URL for queue.enqueue spans, e.g. http://localhost:4318")
	fs.BoolVar(&cfg.WorkerSpans, "worker-spans", cfg.WorkerSpans, "with --otlp-endpoint, also send each attempt's work as nested spans (failing ones with an exception)")
	fs.StringVar(&cfg.KeyPrefix, "key-prefix", cfg.KeyPrefix, "prefix of every key")
	fs.BoolVar(&cfg.Drain, "drain", cfg.Drain, "after enqueuing, wait until every job is final (bounded by --duration)")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "jobs a worker claims per round trip (load tests; >1 disables abandonment)")
	summary := fs.Bool("summary-json", false, "print the per-job summary as JSON instead of totals")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := jobsim.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobsim:", err)
		if sum == nil {
			os.Exit(2)
		}
	}
	if *summary {
		_ = json.NewEncoder(os.Stdout).Encode(sum)
	} else {
		fmt.Printf("enqueued=%d completed=%d retried=%d dead_lettered=%d abandoned=%d elapsed=%s rate=%.0f/s\n",
			sum.Enqueued, sum.Completed, sum.Retried, sum.DeadLettered, sum.Abandoned, sum.Elapsed,
			float64(sum.Final())/sum.Elapsed.Seconds())
	}
	if err != nil {
		os.Exit(1)
	}
}
