package queuejobreceiver

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/testutil/cputime"
	"github.com/jobtrace/jobtrace/internal/tracecontext"
)

const upstreamJob = `{"id":"f0877e0be6c8bb11e23f860ecf071d12","filepath":"/srv/data/batch-004/file-0047.log","filesize":204890,"priority":"low","retries":2,"creation_time":"2026-11-27T10:27:26.204438078Z","trace_id":"39c479705e393343e92d4a770f474a9a","span_id":"71bdc768280d4db9"}`

func upstreamPaths() fieldPaths {
	cfg := createDefaultConfig().(*Config)
	r := cfg.resolved()
	return newFieldPaths(r.Fields)
}

func TestParseJobUpstream(t *testing.T) {
	fp := upstreamPaths()
	j, err := parseJob(upstreamJob, 1<<20, &fp)
	require.NoError(t, err)
	require.Equal(t, "f0877e0be6c8bb11e23f860ecf071d12", j.ID)
	require.Equal(t, 3, j.Attempt, "attempt = retries + 1")
	require.Equal(t, "low", j.Priority)
	require.Equal(t, time.Date(2026, 11, 27, 10, 27, 26, 204438078, time.UTC), j.Created.UTC())
}

func TestParseJobRejects(t *testing.T) {
	fp := upstreamPaths()
	cases := map[string]struct {
		raw    string
		max    int
		reason string
	}{
		"oversized":   {upstreamJob, 64, reasonOversized},
		"binary nul":  {"{\"id\":\"a\x00\"}", 1 << 20, reasonBinary},
		"binary utf8": {"\xff\xfe{}", 1 << 20, reasonBinary},
		"truncated":   {upstreamJob[:len(upstreamJob)/2], 1 << 20, reasonTruncated},
		"not json":    {"hello world", 1 << 20, reasonNotJSON},
		"bad json":    {`{"id": nope}`, 1 << 20, reasonNotJSON},
		"array":       {`[1,2]`, 1 << 20, reasonNotObject},
		"string":      {`"x"`, 1 << 20, reasonNotObject},
		"empty":       {``, 1 << 20, reasonNotJSON},
		"no id":       {`{"retries":1}`, 1 << 20, reasonMissingID},
		"object id":   {`{"id":{"a":1}}`, 1 << 20, reasonMissingID},
		"trailing":    {`{"id":"a"} {"id":"b"}`, 1 << 20, reasonNotJSON},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseJob(c.raw, c.max, &fp)
			var pe *parseError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, c.reason, pe.reason)
		})
	}
}

func TestParseJobFieldPaths(t *testing.T) {
	one, zero := 1, 0
	cases := map[string]struct {
		fields                   FieldsConfig
		raw                      string
		id, typ, queue, priority string
		attempt                  int
		created                  time.Time
	}{
		"sidekiq": {
			fields: FieldsConfig{ID: "jid", Type: "class", Queue: "queue", Attempt: "retry_count", AttemptOffset: &one, CreatedAt: "created_at"},
			raw:    `{"class":"HardWorker","args":[1],"retry":true,"queue":"default","jid":"b4a577edbccf1d805744efa9","created_at":1700000000.5,"retry_count":1}`,
			id:     "b4a577edbccf1d805744efa9", typ: "HardWorker", queue: "default", attempt: 2,
			created: time.Unix(1700000000, 500000000),
		},
		"sidekiq first attempt": {
			fields: FieldsConfig{ID: "jid", Attempt: "retry_count", AttemptOffset: &one},
			raw:    `{"jid":"x","retry":true}`, id: "x", attempt: 1,
		},
		"celery": {
			fields: FieldsConfig{ID: "headers.id", Type: "headers.task", Queue: "properties.delivery_info.routing_key", Attempt: "headers.retries", AttemptOffset: &one},
			raw:    `{"body":"W1s0LDRdLHt9XQ==","headers":{"lang":"py","task":"tasks.add","id":"9f0c","retries":0},"properties":{"delivery_info":{"routing_key":"celery"}}}`,
			id:     "9f0c", typ: "tasks.add", queue: "celery", attempt: 1,
		},
		"bullmq": {
			fields: FieldsConfig{ID: "id", Type: "name", Attempt: "attemptsMade", AttemptOffset: &one, CreatedAt: "timestamp"},
			raw:    `{"id":"42","name":"email","data":{"to":"a@b.c"},"opts":{"attempts":3,"tm":"{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}"},"attemptsMade":2,"timestamp":1700000000123}`,
			id:     "42", typ: "email", attempt: 3, created: time.UnixMilli(1700000000123),
		},
		"numeric id and string attempt": {
			fields: FieldsConfig{ID: "id", Attempt: "attempt", AttemptOffset: &zero},
			raw:    `{"id":7,"attempt":"4"}`, id: "7", attempt: 4,
		},
		"negative attempt ignored": {
			fields: FieldsConfig{ID: "id", Attempt: "attempt", AttemptOffset: &zero},
			raw:    `{"id":"a","attempt":-3}`, id: "a", attempt: 1,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			fp := newFieldPaths(c.fields)
			j, err := parseJob(c.raw, 1<<20, &fp)
			require.NoError(t, err)
			require.Equal(t, c.id, j.ID)
			require.Equal(t, c.typ, j.Type)
			require.Equal(t, c.queue, j.Queue)
			require.Equal(t, c.attempt, j.Attempt)
			require.True(t, c.created.Equal(j.Created), "created %v, want %v", j.Created, c.created)
		})
	}
}

// TestBullMQStyleTraceContext checks the receiver hands nested carriers to the extractor.
func TestBullMQStyleTraceContext(t *testing.T) {
	one := 1
	fp := newFieldPaths(FieldsConfig{ID: "id", Attempt: "attemptsMade", AttemptOffset: &one})
	j, err := parseJob((`{"id":"42","name":"email","opts":{"tm":"{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}"},"attemptsMade":0}`), 1<<20, &fp)
	require.NoError(t, err)
	ex, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
	require.NoError(t, err)
	tc, ok := ex.Extract(j.Fields)
	require.True(t, ok)
	require.Equal(t, "0af7651916cd43dd8448eb211c80319c", tc.TraceIDHex())
	require.Equal(t, "w3c", tc.Format.String())
}

func FuzzParseJob(f *testing.F) {
	f.Add([]byte(upstreamJob), 1<<20)
	f.Add([]byte(`{"id":"x","retries":1e309}`), 100)
	f.Add([]byte(`{"headers":{"id":"a","retries":"3"}}`), 100)
	f.Add([]byte("\x00\xff"), 10)
	f.Add([]byte(strings.Repeat("[", 10000)), 1<<20)
	ex, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	paths := []fieldPaths{upstreamPaths(), newFieldPaths(FieldsConfig{ID: "headers.id", Attempt: "headers.retries", CreatedAt: "t", Queue: "q.r", Type: "a.b.c"})}
	f.Fuzz(func(t *testing.T, raw []byte, max int) {
		if max <= 0 {
			max = 1 << 20
		}
		for i := range paths {
			j, err := parseJob(string(raw), max, &paths[i])
			if err != nil {
				var pe *parseError
				if !errorsAs(err, &pe) {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			if j.ID == "" || j.Attempt < 1 {
				t.Fatalf("accepted job without id or attempt: %+v", j)
			}
			ex.Extract(j.Fields)
		}
	})
}

// BenchmarkParseAndExtract is the "parse plus extraction of an upstream job" target.
func BenchmarkParseAndExtract(b *testing.B) {
	fp := upstreamPaths()
	ex, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
	require.NoError(b, err)
	raw := upstreamJob
	b.ReportAllocs()
	// On a shared VM wall time includes waiting for a core; the thread's own CPU time does not.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := cputime.Thread()
	for b.Loop() {
		j, err := parseJob(raw, 1<<20, &fp)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := ex.Extract(j.Fields); !ok {
			b.Fatal("no context")
		}
	}
	b.ReportMetric(float64(cputime.Thread()-cpu0)/float64(b.N), "cpu-ns/op")
}

func errorsAs(err error, target **parseError) bool {
	pe, ok := err.(*parseError)
	if ok {
		*target = pe
	}
	return ok
}
