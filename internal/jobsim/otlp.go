package jobsim

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func jsonMarshal(p *payload) (string, error) {
	b, err := json.Marshal(p)
	return string(b), err
}

func jsonUnmarshal(b []byte, p *payload) error { return json.Unmarshal(b, p) }

// otlpSender batches queue.enqueue spans (the producer side upstream exports) and posts them
// as OTLP/HTTP JSON. Export failures are dropped like an SDK with no retry would.
type otlpSender struct {
	url    string
	client *http.Client
	mu     sync.Mutex
	td     ptrace.Traces
	spans  ptrace.SpanSlice            // the producer's (go-redis-work-queue)
	bySvc  map[string]ptrace.SpanSlice // worker-side services, created on first use
	stop   chan struct{}
	done   chan struct{}
}

func newOTLPSender(endpoint string) *otlpSender {
	s := &otlpSender{
		url:    strings.TrimSuffix(endpoint, "/") + "/v1/traces",
		client: &http.Client{Timeout: 5 * time.Second},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.reset()
	go s.loop()
	return s
}

func (s *otlpSender) reset() {
	s.td = ptrace.NewTraces()
	s.bySvc = map[string]ptrace.SpanSlice{}
	s.spans = s.service("go-redis-work-queue")
}

// service returns the span slice of a service's resource in the pending batch; call with mu held.
func (s *otlpSender) service(name string) ptrace.SpanSlice {
	if ss, ok := s.bySvc[name]; ok {
		return ss
	}
	rs := s.td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", name)
	sc := rs.ScopeSpans().AppendEmpty()
	sc.Scope().SetName("github.com/jobtrace/jobtrace/internal/jobsim")
	s.bySvc[name] = sc.Spans()
	return s.bySvc[name]
}

func (s *otlpSender) add(j *Job, start, end time.Time, queueKey string) {
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	_, _ = hex.Decode(tid[:], []byte(j.TraceID))
	_, _ = hex.Decode(sid[:], []byte(j.SpanID))
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.spans.AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName("queue.enqueue")
	sp.SetKind(ptrace.SpanKindProducer)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	sp.Attributes().PutStr("messaging.system", "redis")
	sp.Attributes().PutStr("messaging.operation.type", "send")
	sp.Attributes().PutStr("messaging.destination.name", queueKey)
	sp.Attributes().PutStr("messaging.message.id", j.ID)
	sp.Attributes().PutStr("job.id", j.ID)
	sp.Status().SetCode(ptrace.StatusCodeOk)
}

func (s *otlpSender) loop() {
	defer close(s.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.flush()
			return
		case <-t.C:
			s.flush()
		}
	}
}

func (s *otlpSender) flush() {
	s.mu.Lock()
	if s.td.SpanCount() == 0 {
		s.mu.Unlock()
		return
	}
	td := s.td
	s.reset()
	s.mu.Unlock()
	body, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return
	}
	resp, err := s.client.Post(s.url, "application/json", bytes.NewReader(body))
	if err == nil {
		resp.Body.Close()
	}
}

func (s *otlpSender) close() {
	close(s.stop)
	<-s.done
}
