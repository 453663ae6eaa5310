// Command durable measures what the durable tier costs at ingest: the built collector's CPU
// per log record with collector.yaml alone and with examples/durable.yaml (otlphttp to
// VictoriaLogs, otlp to Jaeger), side by side on the same input, alternating runs. It also
// reports VictoriaLogs' own CPU for the records it stored. make bench runs it.
//
//	go run ./test/load/durable [-records 200000] [-rounds 2]
//
// Needs otelcol-dev/otelcol-jobtrace (make build), bin/victoria-logs (make victorialogs) and
// bin/jaeger (make jaeger). Everything is on free loopback ports with data in a temp dir.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

var (
	records = flag.Int("records", 200_000, "log records per run")
	batch   = flag.Int("batch", 500, "records per OTLP request")
	rounds  = flag.Int("rounds", 2, "alternating default/durable rounds")
	root    = flag.String("root", ".", "repository root")
)

func main() {
	flag.Parse()
	r, err := filepath.Abs(*root)
	must(err)
	work, err := os.MkdirTemp("", "jobtrace-durable-bench")
	must(err)
	defer os.RemoveAll(work)

	vlAddr := freeAddr()
	vl := start(filepath.Join(r, "bin", "victoria-logs"), nil, filepath.Join(work, "vl.log"),
		"-httpListenAddr="+vlAddr, "-storageDataPath="+filepath.Join(work, "vl"), "-loggerLevel=WARN")
	defer stop(vl)
	waitHTTP("http://" + vlAddr + "/health")
	jOTLP, jQuery := freeAddr(), freeAddr()
	jaeger := start(filepath.Join(r, "bin", "jaeger"), []string{
		"JAEGER_DATA=" + filepath.Join(work, "jaeger"), "JAEGER_OTLP_GRPC=" + jOTLP, "JAEGER_OTLP_HTTP=" + freeAddr(),
		"JAEGER_QUERY_HTTP=" + jQuery, "JAEGER_QUERY_GRPC=" + freeAddr(),
	}, filepath.Join(work, "jaeger.log"), "--config", filepath.Join(r, "examples", "durable-jaeger.yaml"))
	defer stop(jaeger)
	waitHTTP("http://" + jQuery + "/api/v3/services")

	fmt.Printf("records per run: %d, OTLP/HTTP protobuf batches of %d, %d rounds\n\n", *records, *batch, *rounds)
	fmt.Println("| overlay | collector CPU s | CPU µs/record | wall s | VictoriaLogs CPU s |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	for round := 0; round < *rounds; round++ {
		for _, durable := range []bool{false, true} {
			run(r, work, durable, round, vlAddr, vl, jOTLP, jQuery)
		}
	}
}

func run(root, work string, durable bool, round int, vlAddr string, vl *exec.Cmd, jOTLP, jQuery string) {
	tail, otlpHTTP, health := freeAddr(), freeAddr(), freeAddr()
	env := []string{
		"TAILSTREAM_ENDPOINT=" + tail, "OTLP_HTTP_ENDPOINT=" + otlpHTTP, "OTLP_GRPC_ENDPOINT=" + freeAddr(),
		"HEALTH_ENDPOINT=" + health, "METRICS_HOST=127.0.0.1", "METRICS_PORT=" + port(freeAddr()),
		"REDIS_ENDPOINT=" + freeAddr(), // nothing listens: no queue in this run
		"WORKER_LOGS=" + filepath.Join(work, "none", "*.log"), "JOBTRACE_TOKEN=",
		"VICTORIALOGS_ENDPOINT=http://" + vlAddr, "JAEGER_OTLP_ENDPOINT=" + jOTLP, "JAEGER_QUERY_ENDPOINT=http://" + jQuery,
		"LOG_LEVEL=warn",
	}
	args := []string{"--config", filepath.Join(root, "collector.yaml")}
	name := "collector.yaml"
	if durable {
		args = append(args, "--config", filepath.Join(root, "examples", "durable.yaml"))
		name = "+ durable.yaml"
	}
	col := start(filepath.Join(root, "otelcol-dev", "otelcol-jobtrace"), env, filepath.Join(work, fmt.Sprintf("collector-%d-%v.log", round, durable)), args...)
	defer stop(col)
	waitHTTP("http://" + health + "/")
	service := fmt.Sprintf("bench-%d-%v", round, durable)

	cpu0, vl0 := cpuSeconds(col.Process.Pid), cpuSeconds(vl.Process.Pid)
	t0 := time.Now()
	send("http://"+otlpHTTP+"/v1/logs", service)
	// Done when the tailstream ring holds every record and, with the durable tier, when
	// VictoriaLogs does too (the export path is part of the cost).
	waitFor(func() bool { return ringHead(tail) >= *records })
	if durable {
		waitFor(func() bool { return vlCount(vlAddr, service) >= *records })
	}
	wall := time.Since(t0)
	time.Sleep(time.Second) // let batches in flight finish on both sides
	cpu, vlCPU := cpuSeconds(col.Process.Pid)-cpu0, cpuSeconds(vl.Process.Pid)-vl0
	vlCol := "—"
	if durable {
		vlCol = fmt.Sprintf("%.2f", vlCPU)
	}
	fmt.Printf("| %s | %.2f | %.1f | %.1f | %s |\n", name, cpu, cpu*1e6/float64(*records), wall.Seconds(), vlCol)
}

// send posts the records from 4 senders: app log lines with a resource, a trace context and
// a few attributes, no job (so no correlation hold).
func send(endpoint, service string) {
	var wg sync.WaitGroup
	per := *records / 4
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i += *batch {
				ld := plog.NewLogs()
				rl := ld.ResourceLogs().AppendEmpty()
				rl.Resource().Attributes().PutStr("service.name", service)
				rl.Resource().Attributes().PutStr("host.name", "bench-host")
				sl := rl.ScopeLogs().AppendEmpty()
				now := time.Now()
				for k := 0; k < *batch && i+k < per; k++ {
					lr := sl.LogRecords().AppendEmpty()
					lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(k))))
					lr.SetSeverityNumber(plog.SeverityNumberInfo)
					lr.Body().SetStr(fmt.Sprintf("GET /api/orders/%d served in %d ms by worker %d", i+k, (i+k)%97, w))
					lr.Attributes().PutStr("http.route", "/api/orders/{id}")
					lr.Attributes().PutInt("http.status_code", 200)
					lr.Attributes().PutStr("user.tier", "gold")
				}
				body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
				must(err)
				for {
					resp, err := http.Post(endpoint, "application/x-protobuf", bytes.NewReader(body))
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
					}
					time.Sleep(50 * time.Millisecond) // memory_limiter refused: retry like an SDK
				}
			}
		}()
	}
	wg.Wait()
}

func ringHead(tail string) int {
	resp, err := http.Get("http://" + tail + "/api/v1/health/logging")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var h struct {
		Head int `json:"buffer_head_seq"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return h.Head
}

func vlCount(addr, service string) int {
	q := url.Values{"query": {fmt.Sprintf(`"service.name":=%q | count() n`, service)}}
	resp, err := http.Get("http://" + addr + "/select/logsql/query?" + q.Encode())
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var row struct {
		N string `json:"n"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&row)
	n, _ := strconv.Atoi(row.N)
	return n
}

// cpuSeconds is the process's user+system CPU time from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func start(bin string, env []string, logPath string, args ...string) *exec.Cmd {
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "durable bench: %s missing (make build victorialogs jaeger)\n", bin)
		os.Exit(2)
	}
	f, err := os.Create(logPath)
	must(err)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	must(cmd.Start())
	return cmd
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func waitHTTP(u string) {
	waitFor(func() bool {
		resp, err := http.Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func waitFor(cond func() bool) {
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "durable bench: timed out")
			os.Exit(1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().String()
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "durable bench:", err)
		os.Exit(1)
	}
}
