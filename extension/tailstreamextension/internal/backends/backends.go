// Package backends fetches whole traces from external tracing backends (Jaeger api_v3, Zipkin
// v2) behind per-backend timeouts and circuit breakers.
package backends

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// Backend types.
const (
	TypeJaeger = "jaeger"
	TypeZipkin = "zipkin"
)

var (
	// ErrNotFound means the backend answered and does not know the trace.
	ErrNotFound = errors.New("trace not found")
	// ErrCircuitOpen means the call was not made: the backend failed too often lately.
	ErrCircuitOpen = errors.New("circuit breaker open")
)

// Defaults for zero Options fields.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultFailureThreshold = 5
	DefaultOpenDuration     = 30 * time.Second
)

// maxBody caps a backend answer; a 10,000-span trace in OTLP JSON is ~10-20 MB.
const maxBody = 64 << 20

// Options configure one backend.
type Options struct {
	Name             string
	Type             string
	Endpoint         string // base URL, e.g. http://jaeger:16686
	Timeout          time.Duration
	FailureThreshold int
	OpenDuration     time.Duration
}

// Backend is one configured tracing backend.
type Backend struct {
	opts   Options
	client *http.Client
	br     *breaker

	mu          sync.Mutex
	lastError   string
	lastErrorAt time.Time
	lastOK      time.Time
	fetches     int64
	failures    int64

	probe prober
}

// New returns a backend client. client carries TLS, headers and auth (confighttp builds it);
// nil means a plain client. Per-call timeouts come from the context.
func New(opts Options, client *http.Client) (*Backend, error) {
	if opts.Type != TypeJaeger && opts.Type != TypeZipkin {
		return nil, fmt.Errorf("unknown backend type %q", opts.Type)
	}
	if client == nil {
		client = &http.Client{}
	}
	// Never follow a backend to another host: the client sends the configured headers with
	// every request (confighttp adds them in its transport), redirected ones included.
	client.CheckRedirect = sameHostRedirects
	// The one place backend defaults are applied: config and the runtime API leave zeros.
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.FailureThreshold <= 0 {
		opts.FailureThreshold = DefaultFailureThreshold
	}
	if opts.OpenDuration <= 0 {
		opts.OpenDuration = DefaultOpenDuration
	}
	return &Backend{opts: opts, client: client, br: newBreaker(opts.FailureThreshold, opts.OpenDuration)}, nil
}

// Name returns the configured name.
func (b *Backend) Name() string { return b.opts.Name }

// Fetch returns the spans of the trace. Not found is not a failure for the breaker: the
// backend answered.
func (b *Backend) Fetch(ctx context.Context, traceID pcommon.TraceID) ([]tracecache.Span, error) {
	if !b.br.allow() {
		return nil, ErrCircuitOpen
	}
	var path string
	if b.opts.Type == TypeJaeger {
		path = "/api/v3/traces/" + traceID.String()
	} else {
		path = "/api/v2/trace/" + traceID.String()
	}
	body, err := b.get(ctx, path)
	b.mu.Lock()
	b.fetches++
	b.mu.Unlock()
	if err != nil {
		b.record(err)
		return nil, err
	}
	var spans []tracecache.Span
	if b.opts.Type == TypeJaeger {
		spans, err = DecodeJaeger(body)
	} else {
		spans, err = DecodeZipkin(body)
	}
	if err == nil && len(spans) == 0 {
		err = ErrNotFound
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		// Decoder errors quote pieces of the answer; health and logs get a fixed text.
		err = &requestError{msg: b.opts.Name + ": the answer could not be decoded", cause: err}
	}
	b.record(err)
	return spans, err
}

// Probe checks reachability with a cheap call (the service list).
func (b *Backend) Probe(ctx context.Context) error {
	if !b.br.allow() {
		return ErrCircuitOpen
	}
	path := "/api/v2/services"
	if b.opts.Type == TypeJaeger {
		path = "/api/v3/services"
	}
	_, err := b.get(ctx, path)
	b.record(err)
	return err
}

func (b *Backend) record(err error) {
	now := time.Now()
	b.mu.Lock()
	if err == nil || errors.Is(err, ErrNotFound) {
		b.lastOK = now
	} else {
		b.failures++
		b.lastError, b.lastErrorAt = err.Error(), now
	}
	b.mu.Unlock()
	if err == nil || errors.Is(err, ErrNotFound) {
		b.br.success()
	} else {
		b.br.failure()
	}
}

func (b *Backend) get(ctx context.Context, path string) ([]byte, error) {
	if b.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.opts.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(b.opts.Endpoint, "/")+path, http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, transportError(b.opts.Name, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		// The status and a fixed text only: an error page may echo configuration or secrets,
		// and this message reaches the health endpoint and the logs.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
		return nil, statusError(b.opts.Name, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, transportError(b.opts.Name, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", b.opts.Name, maxBody)
	}
	return body, nil
}

// Status is a backend's state for the health endpoint. Headers are never included: they may
// hold credentials.
type Status struct {
	Name         string       `json:"name"`
	Type         string       `json:"type"`
	Endpoint     string       `json:"endpoint,omitempty"` // redacted; admins only (the API clears it)
	Breaker      BreakerState `json:"circuit_breaker"`
	Failures     int          `json:"consecutive_failures"`
	Reachable    *bool        `json:"reachable,omitempty"`
	LastError    string       `json:"last_error,omitempty"`
	LastErrorAt  *time.Time   `json:"last_error_at,omitempty"`
	LastOKAt     *time.Time   `json:"last_ok_at,omitempty"`
	Fetches      int64        `json:"fetches"`
	FailureTotal int64        `json:"failures_total"`
}

// Status reports the breaker and the last outcomes.
func (b *Backend) Status() Status {
	st, fails := b.br.snapshot()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Status{
		Name: b.opts.Name, Type: b.opts.Type, Endpoint: RedactURL(b.opts.Endpoint), Breaker: st, Failures: fails,
		LastError: b.lastError, Fetches: b.fetches, FailureTotal: b.failures,
	}
	if !b.lastErrorAt.IsZero() {
		t := b.lastErrorAt
		s.LastErrorAt = &t
	}
	if !b.lastOK.IsZero() {
		t := b.lastOK
		s.LastOKAt = &t
	}
	return s
}

// DecodeJaeger decodes an api_v3 GetTrace answer: OTLP JSON under "result". Jaeger's HTTP
// gateway may stream several such objects back to back for one trace; all are read.
func DecodeJaeger(body []byte) ([]tracecache.Span, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []tracecache.Span
	var um ptrace.JSONUnmarshaler
	for {
		var msg struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				HTTPCode int    `json:"httpCode"`
				Code     int    `json:"code"`
				Message  string `json:"message"`
			} `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode jaeger answer: %w", err)
		}
		if msg.Error != nil {
			if msg.Error.HTTPCode == http.StatusNotFound || msg.Error.Code == 5 { // gRPC NotFound
				return nil, ErrNotFound
			}
			// The message is the backend's text: not repeated (see requestError).
			return nil, fmt.Errorf("jaeger answered with error code %d (HTTP %d)", msg.Error.Code, msg.Error.HTTPCode)
		}
		if len(msg.Result) == 0 {
			continue
		}
		td, err := um.UnmarshalTraces(msg.Result)
		if err != nil {
			return nil, fmt.Errorf("decode jaeger OTLP result: %w", err)
		}
		out = append(out, tracecache.FromPdata(td)...)
	}
	return out, nil
}
