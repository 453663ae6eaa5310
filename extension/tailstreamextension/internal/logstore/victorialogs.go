package logstore // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// VictoriaLogsOptions configure a VictoriaLogs reader.
type VictoriaLogsOptions struct {
	Name     string
	Endpoint string // base URL, e.g. http://localhost:9428
	Headers  map[string]string
	// Timeout bounds each query, on our side and as LogsQL's own timeout.
	Timeout          time.Duration
	FailureThreshold int
	OpenDuration     time.Duration
}

// VictoriaLogs reads lines with LogsQL (/select/logsql/query).
type VictoriaLogs struct {
	opts   VictoriaLogsOptions
	client *http.Client
	br     *backends.Breaker

	mu          sync.Mutex
	queries     int64
	errs        int64
	lastError   string
	lastErrorAt time.Time
	lastOK      time.Time
}

var _ Store = (*VictoriaLogs)(nil)

// maxLine bounds one result line (one log record as JSON).
const maxLine = 4 << 20

// NewVictoriaLogs returns a reader; client may be nil.
func NewVictoriaLogs(opts VictoriaLogsOptions, client *http.Client) (*VictoriaLogs, error) {
	u, err := url.Parse(opts.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("victorialogs endpoint %q: must be an http(s) base URL", opts.Endpoint)
	}
	opts.Endpoint = strings.TrimRight(opts.Endpoint, "/")
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.FailureThreshold <= 0 {
		opts.FailureThreshold = 5
	}
	if opts.OpenDuration <= 0 {
		opts.OpenDuration = 30 * time.Second
	}
	if opts.Name == "" {
		opts.Name = TypeVictoriaLogs
	}
	if client == nil {
		client = &http.Client{}
	}
	return &VictoriaLogs{opts: opts, client: client, br: backends.NewBreaker(opts.FailureThreshold, opts.OpenDuration)}, nil
}

// Query runs q as LogsQL.
func (v *VictoriaLogs) Query(ctx context.Context, q Query) (Result, error) {
	if q.Limit <= 0 {
		return Result{}, errors.New("logstore: query limit must be positive")
	}
	if !v.br.Allow() {
		return Result{}, fmt.Errorf("%w: %w (%s)", ErrUnavailable, ErrCircuitOpen, v.opts.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	res, err := v.query(ctx, q)
	v.mu.Lock()
	v.queries++
	if err != nil {
		v.errs++
		v.lastError, v.lastErrorAt = err.Error(), time.Now()
	} else {
		v.lastOK = time.Now()
	}
	v.mu.Unlock()
	if err != nil {
		// A caller that gave up is not the store's fault.
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			v.br.Failure()
		}
		return Result{}, fmt.Errorf("%w: %s: %w", ErrUnavailable, v.opts.Name, err)
	}
	v.br.Success()
	return res, nil
}

func (v *VictoriaLogs) query(ctx context.Context, q Query) (Result, error) {
	form := url.Values{}
	form.Set("query", LogsQL(q))
	if !q.From.IsZero() {
		form.Set("start", q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		form.Set("end", q.Until.UTC().Format(time.RFC3339Nano))
	}
	form.Set("timeout", v.opts.Timeout.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.opts.Endpoint+"/select/logsql/query", strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, val := range v.opts.Headers {
		req.Header.Set(k, val)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Result{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var out []*ring.Entry
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	now := time.Now()
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal(line, &row); err != nil {
			return Result{}, fmt.Errorf("bad result line: %w", err)
		}
		out = append(out, EntryFromFields(row, now))
	}
	if err := sc.Err(); err != nil {
		return Result{}, fmt.Errorf("reading results: %w", err)
	}
	// One extra line was asked for to learn whether there is more.
	res := Result{}
	if len(out) > q.Limit {
		res.More = true
		out = out[:q.Limit]
	}
	if q.Newest && !q.Unordered {
		slices.Reverse(out)
	}
	res.Entries = out
	return res, nil
}

// Health reports the breaker and the last outcomes.
func (v *VictoriaLogs) Health() Health {
	st, fails := v.br.State()
	v.mu.Lock()
	defer v.mu.Unlock()
	return Health{
		Name: v.opts.Name, Type: TypeVictoriaLogs, Endpoint: v.opts.Endpoint, Breaker: string(st), Failures: fails,
		Queries: v.queries, Errors: v.errs, LastError: v.lastError, LastErrorAt: v.lastErrorAt, LastOK: v.lastOK,
	}
}

// LogsQL renders q. Every value is a quoted LogsQL string, so hostile input stays a value.
// Each field filter also accepts the upstream zap name a line may carry when it did not go
// through jobcorrelation, as the ring's entries do (ring.FromShared).
func LogsQL(q Query) string {
	var parts []string
	exact := func(v string, fields ...string) {
		if v == "" {
			return
		}
		alts := make([]string, len(fields))
		for i, f := range fields {
			alts[i] = quote(f) + ":=" + quote(v)
		}
		parts = append(parts, "("+strings.Join(alts, " or ")+")")
	}
	exact(q.JobID, conventions.AttrJobID, "job_id")
	exact(q.TraceID, "trace_id")
	exact(q.WorkerID, conventions.AttrWorkerID, "worker_id")
	exact(q.QueueName, conventions.AttrQueueName, conventions.AttrMessagingDestinationName)
	exact(q.Service, "service.name")
	if len(q.Queues) > 0 {
		vals := make([]string, len(q.Queues))
		for i, s := range q.Queues {
			vals[i] = quote(s)
		}
		in := ":in(" + strings.Join(vals, ",") + ")"
		parts = append(parts, "("+quote(conventions.AttrQueueName)+in+" or "+quote(conventions.AttrMessagingDestinationName)+in+")")
	}
	if q.Lifecycle {
		parts = append(parts, quote(conventions.AttrEventName)+`:"job_"*`)
	}
	if q.ExcludeGateway != "" {
		parts = append(parts, "-"+quote(GatewayField)+":="+quote(q.ExcludeGateway))
	}
	filter := "*"
	if len(parts) > 0 {
		filter = strings.Join(parts, " and ")
	}
	if len(q.Fields) > 0 {
		fs := make([]string, len(q.Fields))
		for i, f := range q.Fields {
			fs[i] = quote(f)
		}
		filter += " | fields " + strings.Join(fs, ", ")
	}
	if q.Unordered {
		s := filter
		if q.Offset > 0 {
			s += " | offset " + strconv.Itoa(q.Offset)
		}
		return s + " | limit " + strconv.Itoa(q.Limit+1)
	}
	order := "_time"
	if q.Newest {
		order = "_time desc"
	}
	s := filter + " | sort by (" + order + ")"
	if q.Offset > 0 {
		s += " offset " + strconv.Itoa(q.Offset)
	}
	return s + " limit " + strconv.Itoa(q.Limit+1)
}

func quote(s string) string { return strconv.Quote(s) }

// Fields VictoriaLogs derives from an OTLP record (app/vlinsert/opentelemetry) rather than
// from its attributes.
const (
	fieldTime      = "_time"
	fieldMsg       = "_msg"
	fieldStream    = "_stream"
	fieldStreamID  = "_stream_id"
	fieldTraceID   = "trace_id"
	fieldSpanID    = "span_id"
	fieldSevNum    = "severity_number"
	fieldSevText   = "severity_text"
	fieldEventName = "event_name"
	fieldScopeName = "scope.name"
	fieldScopeVer  = "scope.version"
	scopeAttrsPref = "scope.attributes."
)

// resourcePrefixes are the semantic-convention namespaces of resource attributes.
// VictoriaLogs stores resource and record attributes side by side; these go back to the
// resource so a line reads (and filters, OTTL included) as it did live.
var resourcePrefixes = []string{
	"service.", "host.", "process.", "telemetry.", "os.", "k8s.", "container.", "cloud.",
	"deployment.", "faas.", "device.", "webengine.",
}

func isResourceKey(k string) bool {
	for _, p := range resourcePrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// EntryFromFields rebuilds a ring entry from one stored record, through the same conversion
// as live lines (ring.FromShared), so job, worker, queue and service are derived alike.
// Attribute values come back as strings: VictoriaLogs stores strings.
func EntryFromFields(row map[string]string, now time.Time) *ring.Entry {
	ld := plog.NewLogs()
	AppendRecord(ld, row)
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	e := ring.FromRecord(rl.Resource(), sl.Scope(), sl.LogRecords().At(0), now)
	// retention.max_age counts from ingestion; a stored line was ingested when it happened.
	e.Ingested = e.Timestamp
	return e
}

// AppendRecord adds one stored record to ld as the OTLP record it was (one ResourceLogs per
// record: VictoriaLogs does not keep the grouping).
func AppendRecord(ld plog.Logs, row map[string]string) {
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	lr := sl.LogRecords().AppendEmpty()
	var ts time.Time
	for k, val := range row {
		switch {
		case k == fieldTime:
			ts, _ = time.Parse(time.RFC3339Nano, val)
		case k == fieldMsg:
			lr.Body().SetStr(val)
		case k == fieldStream || k == fieldStreamID:
		case k == fieldTraceID:
			if id, ok := parseHex(val, 16); ok {
				lr.SetTraceID(pcommon.TraceID(id))
			} else {
				lr.Attributes().PutStr(k, val)
			}
		case k == fieldSpanID:
			if id, ok := parseHex(val, 8); ok {
				var sid pcommon.SpanID
				copy(sid[:], id[:8])
				lr.SetSpanID(sid)
			} else {
				lr.Attributes().PutStr(k, val)
			}
		case k == fieldSevNum:
			if n, err := strconv.Atoi(val); err == nil {
				lr.SetSeverityNumber(plog.SeverityNumber(n))
			}
		case k == fieldSevText:
			lr.SetSeverityText(val)
		case k == fieldEventName:
			lr.SetEventName(val)
		case k == fieldScopeName:
			if val != "unknown" {
				sl.Scope().SetName(val)
			}
		case k == fieldScopeVer:
			if val != "unknown" {
				sl.Scope().SetVersion(val)
			}
		case strings.HasPrefix(k, scopeAttrsPref):
			sl.Scope().Attributes().PutStr(strings.TrimPrefix(k, scopeAttrsPref), val)
		case isResourceKey(k):
			rl.Resource().Attributes().PutStr(k, val)
		default:
			lr.Attributes().PutStr(k, val)
		}
	}
	// VictoriaLogs writes severity_text "Unspecified" for records without one.
	if lr.SeverityText() == "Unspecified" && lr.SeverityNumber() == plog.SeverityNumberUnspecified {
		lr.SetSeverityText("")
	}
	if !ts.IsZero() {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	}
}

func parseHex(s string, n int) ([16]byte, bool) {
	var out [16]byte
	if len(s) != 2*n {
		return out, false
	}
	for i := 0; i < n; i++ {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return out, false
		}
		out[i] = hi<<4 | lo
	}
	return out, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
