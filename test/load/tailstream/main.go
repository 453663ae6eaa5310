// Command tailstream is the load harness of the tailstream extension (make bench runs it).
// Everything runs in this process on loopback: the real extension serves real WebSocket
// clients while the harness publishes logs the way the tailstream exporter does.
//
//	go run ./test/load/tailstream [-streams 500] [-rate 50000] [-duration 10s] [-stalled 50]
//
// It measures three things and prints a Markdown table:
//  1. delivery latency (publish → client read) with -streams clients at -rate lines/s;
//  2. memory per stream at the default stream buffer;
//  3. pipeline (PublishLogs) throughput with no streams, with -stalled clients that never
//     read, and with the same number of clients that read.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension"
)

var (
	streams  = flag.Int("streams", 500, "concurrent WebSocket streams in the latency run")
	rate     = flag.Int("rate", 50000, "ingress lines/s in the latency run")
	duration = flag.Duration("duration", 10*time.Second, "length of the latency run and of each throughput run")
	stalled  = flag.Int("stalled", 50, "clients that never read, in the throughput run")
	only     = flag.String("only", "", "run only one of: latency, memory, throughput")
	cpuprof  = flag.String("cpuprofile", "", "write a CPU profile to this file")
)

func main() {
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("# tailstream load harness (%s, GOMAXPROCS=%d, %s)\n\n", runtime.Version(), runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
	if *only == "" || *only == "latency" {
		latency()
	}
	if *only == "" || *only == "memory" {
		memory()
	}
	if *only == "" || *only == "throughput" {
		throughput()
	}
}

type server struct {
	ext  extension.Extension
	sink tailstreamextension.Sink
	base string
}

func start(settings map[string]any) *server {
	f := tailstreamextension.NewFactory()
	cfg := f.CreateDefaultConfig()
	// One anonymous user holds every stream here, so lift the per-user limit to the global one.
	m := map[string]any{"endpoint": "127.0.0.1:0", "streams": map[string]any{"max_streams": 1000, "max_streams_per_user": 1000}}
	for k, v := range settings {
		m[k] = v
	}
	must(confmap.NewFromStringMap(m).Unmarshal(cfg))
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	must(err)
	must(ext.Start(context.Background(), componenttest.NewNopHost()))
	addr := ext.(interface{ Addr() string }).Addr()
	return &server{ext: ext, sink: ext.(tailstreamextension.Sink), base: "http://" + addr}
}

func (s *server) stop() { must(s.ext.Shutdown(context.Background())) }

// allQueuesFull reports whether every stream's queue is (nearly) full.
func (s *server) allQueuesFull() bool {
	resp, err := http.Get(s.base + "/api/v1/logs/streams")
	must(err)
	defer resp.Body.Close()
	var v struct {
		Streams []struct {
			Stats struct {
				BufferUsage float64 `json:"buffer_usage"`
			} `json:"stats"`
		} `json:"streams"`
	}
	must(json.NewDecoder(resp.Body).Decode(&v))
	for _, st := range v.Streams {
		if st.Stats.BufferUsage < 0.99 {
			return false
		}
	}
	return len(v.Streams) > 0
}

func (s *server) createStream(filters map[string]any, opts map[string]any) string {
	b, _ := json.Marshal(map[string]any{"filters": filters, "options": opts})
	resp, err := http.Post(s.base+"/api/v1/logs/streams", "application/json", bytes.NewReader(b))
	must(err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		panic(fmt.Sprintf("create stream: %d %s", resp.StatusCode, body))
	}
	var v struct {
		Endpoint string `json:"endpoint"`
	}
	must(json.Unmarshal(body, &v))
	return v.Endpoint
}

// smallBuffers keeps client sockets' receive buffers small, as a slow remote client's
// would be, so a client that stops reading fills its socket in seconds rather than minutes.
var smallBuffers = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(16 << 10)
	}
	return c, err
}}}

func dial(url string) *websocket.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: smallBuffers})
	must(err)
	c.SetReadLimit(1 << 20)
	return c
}

// batch builds one publish: n lines spread over jobs job-0..job-(jobs-1).
func batch(n, jobs int, stamp bool) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "load-worker")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lrs.EnsureCapacity(n)
	now := time.Now()
	for i := 0; i < n; i++ {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.Body().SetStr("processed file /data/in/batch-0042/part-" + strconv.Itoa(i) + ".csv in 12ms")
		a := lr.Attributes()
		a.PutStr("job.id", "job-"+strconv.Itoa(i%jobs))
		a.PutStr("worker.id", "load-host-4242-1700000000000000000-beef-"+strconv.Itoa(i%8))
		a.PutStr("queue.name", "high_priority")
		if stamp {
			a.PutInt("sent_ns", now.UnixNano())
		}
	}
	return ld
}

var sentKey = []byte(`"sent_ns":`)

func sentNS(msg []byte) (int64, bool) {
	i := bytes.Index(msg, sentKey)
	if i < 0 {
		return 0, false
	}
	rest := msg[i+len(sentKey):]
	j := bytes.IndexAny(rest, ",}")
	if j < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return n, err == nil
}

func latency() {
	s := start(nil)
	defer s.stop()
	conns := make([]*websocket.Conn, *streams)
	for i := range conns {
		conns[i] = dial(s.createStream(map[string]any{"job_id": "job-" + strconv.Itoa(i)}, nil))
	}
	var mu sync.Mutex
	var lat []time.Duration
	var received, controls atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c *websocket.Conn) {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			defer func() { mu.Lock(); lat = append(lat, local...); mu.Unlock() }()
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				if ns, ok := sentNS(msg); ok {
					local = append(local, time.Duration(time.Now().UnixNano()-ns))
					received.Add(1)
				} else {
					controls.Add(1)
				}
			}
		}(c)
	}
	// 100 publishes a second, each with rate/100 lines over all the streams' jobs.
	const tick = 10 * time.Millisecond
	per := *rate / 100
	t := time.NewTicker(tick)
	deadline := time.Now().Add(*duration)
	sent := 0
	var publishTime time.Duration
	for now := range t.C {
		if now.After(deadline) {
			break
		}
		ld := batch(per, *streams, true)
		t0 := time.Now()
		must(s.sink.PublishLogs(context.Background(), ld))
		publishTime += time.Since(t0)
		sent += per
	}
	t.Stop()
	time.Sleep(500 * time.Millisecond) // let the last lines arrive
	cancel()
	for _, c := range conns {
		c.CloseNow()
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	fmt.Printf("## delivery latency: %d WebSocket streams (one job each), %d lines/s for %s\n\n", *streams, *rate, *duration)
	fmt.Println("| lines published | lines received | control msgs | p50 | p90 | p99 | max | PublishLogs time per line |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | %d | %d | %s | %s | %s | %s | %s |\n\n", sent, received.Load(), controls.Load(),
		pct(0.5).Round(10*time.Microsecond), pct(0.9).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
		pct(1).Round(10*time.Microsecond), (publishTime / time.Duration(max(sent, 1))).Round(time.Nanosecond))
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func memory() {
	const n = 500
	s := start(nil)
	defer s.stop()
	// Fill the ring first so the baseline holds it: streams share its entries.
	for i := 0; i < 100; i++ {
		must(s.sink.PublishLogs(context.Background(), batch(1000, 50, false)))
	}
	base := heap()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = s.createStream(map[string]any{}, nil) // default buffer_size, unfiltered
	}
	// 1,000 lines fill every queue (default buffer 1,000); the ring overwrites as many.
	must(s.sink.PublishLogs(context.Background(), batch(1000, 50, false)))
	created := heap()
	conns := make([]*websocket.Conn, n)
	for i, u := range urls {
		conns[i] = dial(u) // never read: the queue stays full and writes block on the socket
	}
	time.Sleep(time.Second)
	attached := heap()
	for _, c := range conns {
		c.CloseNow()
	}
	fmt.Printf("## memory per stream: %d unfiltered streams, default buffer (1,000 lines), queues full\n\n", n)
	fmt.Println("| state | heap per stream |")
	fmt.Println("|---|---|")
	fmt.Printf("| created, queue full, no client | %s |\n", kib(float64(created-base)/n))
	fmt.Printf("| plus a WebSocket client attached (both ends, in-process) | %s |\n\n", kib(float64(attached-base)/n))
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

func throughput() {
	run := func(clients int, read, filtered bool) float64 {
		s := start(nil)
		defer s.stop()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var conns []*websocket.Conn
		for i := 0; i < clients; i++ {
			f := map[string]any{} // unfiltered: every line matches every stream (worst case)
			if filtered {
				f["job_id"] = "job-" + strconv.Itoa(i) // a job's lines, as a user following one job
			}
			c := dial(s.createStream(f, nil))
			conns = append(conns, c)
			if read {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						if _, _, err := c.Read(ctx); err != nil {
							return
						}
					}
				}()
			}
		}
		ld := batch(1000, 500, false)
		if clients > 0 && !read {
			// Kernel socket buffers hold megabytes: until they fill, a client that never reads
			// looks like one that does. Publish (unmeasured) until every stream's queue is full,
			// i.e. every writer is blocked on its socket: the state this run is about.
			warm := time.Now()
			for !s.allQueuesFull() && time.Since(warm) < 60*time.Second {
				for i := 0; i < 20; i++ {
					must(s.sink.PublishLogs(context.Background(), ld))
				}
			}
			fmt.Fprintf(os.Stderr, "stalled clients: queues full after %s of warm-up\n", time.Since(warm).Round(time.Millisecond))
		}
		lines := 0
		t0 := time.Now()
		for time.Since(t0) < *duration {
			must(s.sink.PublishLogs(context.Background(), ld))
			lines += 1000
		}
		el := time.Since(t0)
		cancel()
		for _, c := range conns {
			c.CloseNow()
		}
		wg.Wait()
		return float64(lines) / el.Seconds()
	}
	none := run(0, false, false)
	stalledJobs := run(*stalled, false, true)
	stalledRate := run(*stalled, false, false)
	reading := run(*stalled, true, false)
	fmt.Printf("## pipeline throughput (PublishLogs, 1,000-line batches, %s each)\n\n", *duration)
	fmt.Println("| clients | lines/s | vs none |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| none | %.0f | 100%% |\n", none)
	fmt.Printf("| %d job-filtered streams (1 job of 500 each), clients never read | %.0f | %.0f%% |\n", *stalled, stalledJobs, 100*stalledJobs/none)
	fmt.Printf("| %d unfiltered streams, clients never read | %.0f | %.0f%% |\n", *stalled, stalledRate, 100*stalledRate/none)
	fmt.Printf("| %d unfiltered streams, clients read | %.0f | %.0f%% |\n\n", *stalled, reading, 100*reading/none)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "tailstream load:", err)
		os.Exit(1)
	}
}

var _ component.Config = nil
