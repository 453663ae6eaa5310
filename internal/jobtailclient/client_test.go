package jobtailclient_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var base = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestNewEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts jobtailclient.Options
		want string
		err  string
	}{
		{name: "default", want: "http://localhost:8088/api/v1"},
		{name: "host port", opts: jobtailclient.Options{Endpoint: "10.0.0.1:9000"}, want: "http://10.0.0.1:9000/api/v1"},
		{name: "https with prefix", opts: jobtailclient.Options{Endpoint: "https://tail.example/api/v1/"}, want: "https://tail.example/api/v1"},
		{name: "skip verify implies https", opts: jobtailclient.Options{Endpoint: "h:1", InsecureSkipVerify: true}, want: "https://h:1/api/v1"},
		{name: "bad scheme", opts: jobtailclient.Options{Endpoint: "ftp://h:1"}, err: "scheme must be http or https"},
		{name: "missing ca file", opts: jobtailclient.Options{Endpoint: "h:1", CAFile: "/nonexistent/ca.pem"}, err: "ca-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := jobtailclient.New(tc.opts)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.BaseURL())
		})
	}
}

func newClient(t *testing.T, srv *jobtailtest.Server, token string) *jobtailclient.Client {
	t.Helper()
	c, err := jobtailclient.New(jobtailclient.Options{Endpoint: srv.Endpoint(), Token: token})
	require.NoError(t, err)
	return c
}

func TestAuthAndAPIErrors(t *testing.T) {
	srv := jobtailtest.New(t)
	srv.Token = "s3cret"
	srv.Seed(base)

	_, err := newClient(t, srv, "wrong").ListJobs(context.Background(), jobtailclient.JobsQuery{})
	var ae *jobtailclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusUnauthorized, ae.StatusCode)
	assert.Equal(t, "unauthorized", ae.Code)

	c := newClient(t, srv, "s3cret")
	_, err = c.ListJobs(context.Background(), jobtailclient.JobsQuery{Status: "exploded"})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusBadRequest, ae.StatusCode)
	assert.Equal(t, "status", ae.Field)

	_, err = c.JobTrace(context.Background(), "no-such-job")
	assert.True(t, jobtailclient.IsNotFound(err), "%v", err)
}

func TestListJobsAndTrace(t *testing.T) {
	srv := jobtailtest.New(t)
	srv.Seed(base)
	c := newClient(t, srv, "")
	ctx := context.Background()

	page, err := c.ListJobs(ctx, jobtailclient.JobsQuery{})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 3)
	assert.Equal(t, jobtailtest.JobDead, page.Jobs[0].ID, "newest first")
	assert.Equal(t, 3, page.Jobs[0].Attempts)
	assert.Equal(t, 900*time.Millisecond, page.Jobs[0].Duration(time.Now()))

	page, err = c.ListJobs(ctx, jobtailclient.JobsQuery{Status: jobtailclient.StatusDeadLettered, Queue: "high_priority"})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 1)
	assert.Equal(t, jobtailtest.JobDead, page.Jobs[0].ID)

	jt, err := c.JobTrace(ctx, jobtailtest.JobDead)
	require.NoError(t, err)
	assert.Equal(t, jobtailtest.TraceDead, jt.TraceID)
	assert.Contains(t, jt.TraceURL, jobtailtest.TraceDead)

	sum, err := c.TraceSummary(ctx, jt.TraceID)
	require.NoError(t, err)
	assert.Equal(t, []string{"aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2"}, sum.CriticalPath)
	assert.Equal(t, []string{"aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2"}, sum.ErrorSpans)
	assert.Len(t, sum.AllSpans(), 2)

	_, err = c.TraceSummary(ctx, "NOT-HEX")
	var ae *jobtailclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusBadRequest, ae.StatusCode)
}

func TestDecodeTolerantShapes(t *testing.T) {
	// The design document lists services as bare names and types tags as strings; the issue
	// uses objects. Both must decode.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736/summary":
			_, _ = w.Write([]byte(`{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","spans":[{"span_id":"a","operation_name":"op",
			"start_time":"2026-11-27T10:00:00Z","duration_ms":12.5,"tags":{"n":3,"ok":true,"s":"x"}}],
			"critical_path":["a"],"error_spans":[{"span_id":"a"}],"services":["queue-worker",{"name":"pg","span_count":2,"error_count":1}]}`))
		case "/api/v1/jobs":
			_, _ = w.Write([]byte(`[{"id":"j1","queue_name":"q","status":"running","attempt":"2","worker":"w","started":"2026-11-27T10:00:00Z"}]`))
		}
	}))
	defer srv.Close()
	c, err := jobtailclient.New(jobtailclient.Options{Endpoint: srv.URL})
	require.NoError(t, err)
	sum, err := c.TraceSummary(context.Background(), "4bf92f3577b34da6a3ce929d0e0e4736")
	require.NoError(t, err)
	assert.Equal(t, []jobtailclient.ServiceStat{{Name: "queue-worker"}, {Name: "pg", SpanCount: 2, ErrorCount: 1}}, sum.Services)
	assert.Equal(t, map[string]string{"n": "3", "ok": "true", "s": "x"}, sum.Spans[0].Tags)
	assert.Equal(t, []string{"a"}, sum.ErrorSpans)
	assert.Equal(t, 12500*time.Microsecond, jobtailclient.MSToDuration(sum.Spans[0].DurationMS))

	page, err := c.ListJobs(context.Background(), jobtailclient.JobsQuery{})
	require.NoError(t, err)
	assert.Equal(t, jobtailclient.Job{ID: "j1", Queue: "q", Status: "running", Attempts: 2, WorkerID: "w", Started: base}, page.Jobs[0])
}

func TestTLSWithCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"jobs":[]}`))
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	untrusted, err := jobtailclient.New(jobtailclient.Options{Endpoint: srv.URL})
	require.NoError(t, err)
	_, err = untrusted.ListJobs(context.Background(), jobtailclient.JobsQuery{})
	require.Error(t, err, "a self-signed server must not be trusted by default")

	trusted, err := jobtailclient.New(jobtailclient.Options{Endpoint: srv.URL, CAFile: caFile})
	require.NoError(t, err)
	_, err = trusted.ListJobs(context.Background(), jobtailclient.JobsQuery{})
	require.NoError(t, err)

	skip, err := jobtailclient.New(jobtailclient.Options{Endpoint: srv.URL, InsecureSkipVerify: true})
	require.NoError(t, err)
	_, err = skip.ListJobs(context.Background(), jobtailclient.JobsQuery{})
	require.NoError(t, err)

	bad := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(bad, []byte("not a pem"), 0o600))
	_, err = jobtailclient.New(jobtailclient.Options{Endpoint: srv.URL, CAFile: bad})
	require.ErrorContains(t, err, "no PEM certificates")
}

func TestCreateStreamValidationError(t *testing.T) {
	srv := jobtailtest.New(t)
	c := newClient(t, srv, "")
	_, err := c.CreateStream(context.Background(), jobtailclient.StreamRequest{Filters: jobtailclient.StreamFilters{OTTL: `attributes["x" ==`}})
	var ae *jobtailclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusBadRequest, ae.StatusCode)
	assert.Equal(t, "filters.ottl", ae.Field)
	assert.Contains(t, ae.Message, "syntax")
	assert.False(t, ae.Retryable())
}

// next reads events until one carries an entry, returning the state events seen on the way.
func nextEntry(t *testing.T, ch <-chan jobtailclient.Event) (*jobtailclient.LogEntry, []jobtailclient.Event) {
	t.Helper()
	var states []jobtailclient.Event
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			require.True(t, ok, "stream ended early; states: %+v", states)
			if ev.Entry != nil {
				return ev.Entry, states
			}
			states = append(states, ev)
		case <-timeout:
			t.Fatalf("no entry; states so far: %+v", states)
		}
	}
}

func drain(ch <-chan jobtailclient.Event) {
	for range ch { //nolint:revive // draining until the follower closes
	}
}

func followJob(t *testing.T, c *jobtailclient.Client, jobID string) (<-chan jobtailclient.Event, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := c.Follow(ctx, jobtailclient.StreamRequest{
		Filters: jobtailclient.StreamFilters{JobID: jobID},
		Options: jobtailclient.StreamOptions{Follow: true, TailLines: 100},
	}, jobtailclient.FollowOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	return ch, func() { cancel(); drain(ch) }
}

func TestFollowReconnectsWithoutDuplicates(t *testing.T) {
	srv := jobtailtest.New(t)
	srv.IgnoreLastEventID = true // the client alone must prevent duplicates
	srv.Seed(base)
	c := newClient(t, srv, "")
	ch, stop := followJob(t, c, jobtailtest.JobDead)
	defer stop()

	var got []string
	var seqs []uint64
	for range 3 { // the dead job's three tail lines
		e, _ := nextEntry(t, ch)
		got = append(got, e.Message)
		seqs = append(seqs, e.Seq)
	}
	assert.Equal(t, []string{"job started", "upload failed: connection refused", "job dead-lettered"}, got)

	require.Eventually(t, func() bool { return srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)
	srv.DropConnections()
	// Wait for the re-attach before appending so the new line is not only in the live feed.
	require.Eventually(t, func() bool { return len(srv.Attaches()) == 2 && srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)
	newSeq := srv.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(3 * time.Second), Level: "warn", JobID: jobtailtest.JobDead, Message: "after reconnect"})

	e, states := nextEntry(t, ch)
	assert.Equal(t, "after reconnect", e.Message, "the replayed tail must be de-duplicated")
	assert.Equal(t, newSeq, e.Seq)
	var sawReconnecting, sawConnected bool
	for _, s := range states {
		sawReconnecting = sawReconnecting || s.StateChanged && s.State == jobtailclient.StateReconnecting
		sawConnected = sawConnected || s.StateChanged && s.State == jobtailclient.StateConnected
	}
	assert.True(t, sawReconnecting && sawConnected, "states: %+v", states)

	att := srv.Attaches()
	assert.Empty(t, att[0].LastEventID)
	assert.Equal(t, att[0].StreamID, att[1].StreamID, "re-attach to the same stream")
	assert.Equal(t, "5", att[1].LastEventID, "resume from the last seq seen")
	assert.Equal(t, uint64(5), seqs[2])
}

func TestFollowRecreatesForgottenStream(t *testing.T) {
	srv := jobtailtest.New(t)
	srv.Seed(base)
	c := newClient(t, srv, "")
	ch, stop := followJob(t, c, jobtailtest.JobDead)
	defer stop()
	for range 3 {
		nextEntry(t, ch)
	}
	require.Eventually(t, func() bool { return srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)
	srv.ForgetStreams()
	require.Eventually(t, func() bool { return len(srv.Creates()) == 2 && srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)
	srv.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(4 * time.Second), Level: "info", JobID: jobtailtest.JobDead, Message: "fresh"})

	e, _ := nextEntry(t, ch)
	assert.Equal(t, "fresh", e.Message)
	creates := srv.Creates()
	require.NotNil(t, creates[1].Filters.Since, "the new stream starts at the last entry's time")
	assert.True(t, creates[1].Filters.Since.Equal(base.Add(2*time.Second+900*time.Millisecond)))
	assert.Equal(t, jobtailtest.JobDead, creates[1].Filters.JobID)
}

func TestFollowTailEndsAndControlMessages(t *testing.T) {
	srv := jobtailtest.New(t)
	srv.Seed(base)
	c := newClient(t, srv, "")
	ch := c.Follow(context.Background(), jobtailclient.StreamRequest{
		Filters: jobtailclient.StreamFilters{LogLevel: []string{"error"}},
		Options: jobtailclient.StreamOptions{TailLines: 10},
	}, jobtailclient.FollowOptions{})
	var msgs []string
	var last jobtailclient.Event
	for ev := range ch {
		if ev.Entry != nil {
			msgs = append(msgs, ev.Entry.Message)
		}
		last = ev
	}
	assert.Equal(t, []string{"upload failed: connection refused", "job dead-lettered"}, msgs)
	assert.Equal(t, jobtailclient.StateClosed, last.State)
	require.NoError(t, last.Err)

	// Control messages arrive as such, with their counts.
	ch2, stop := followJob(t, c, jobtailtest.JobOK)
	defer stop()
	nextEntry(t, ch2)
	nextEntry(t, ch2)
	require.Eventually(t, func() bool { return srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)
	srv.SendControl(map[string]any{"type": "dropped", "count": 42, "reason": "rate_limited"})
	for ev := range ch2 {
		if ev.Control != nil {
			assert.Equal(t, "dropped", ev.Control.Type)
			assert.Equal(t, uint64(42), ev.Control.Dropped)
			assert.Equal(t, "rate_limited", ev.Control.Reason)
			break
		}
	}
}

func TestFollowStopsOnPermanentError(t *testing.T) {
	srv := jobtailtest.New(t)
	c := newClient(t, srv, "")
	ch := c.Follow(context.Background(), jobtailclient.StreamRequest{
		Filters: jobtailclient.StreamFilters{LogLevel: []string{"loud"}},
		Options: jobtailclient.StreamOptions{Follow: true},
	}, jobtailclient.FollowOptions{})
	var last jobtailclient.Event
	for ev := range ch {
		last = ev
	}
	assert.Equal(t, jobtailclient.StateClosed, last.State)
	var ae *jobtailclient.APIError
	require.True(t, errors.As(last.Err, &ae), "%v", last.Err)
	assert.Equal(t, "filters.log_level", ae.Field)
}

func TestFollowCancelDeletesStream(t *testing.T) {
	srv := jobtailtest.New(t)
	srv.Seed(base)
	c := newClient(t, srv, "")
	ch, stop := followJob(t, c, jobtailtest.JobOK)
	nextEntry(t, ch)
	stop()
	require.Eventually(t, func() bool { return srv.ActiveConns() == 0 }, 5*time.Second, 10*time.Millisecond)
	// The stream is gone server-side: attaching again is a 404.
	err := c.DeleteStream(context.Background(), srv.Attaches()[0].StreamID)
	require.NoError(t, err, "deleting an already-deleted stream is not an error")
}

func TestFollowAcrossServerRestart(t *testing.T) {
	srv := jobtailtest.New(t)
	srv.Seed(base)
	c := newClient(t, srv, "")
	ch, stop := followJob(t, c, jobtailtest.JobDead)
	defer stop()
	for range 3 {
		nextEntry(t, ch)
	}
	require.Eventually(t, func() bool { return srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)
	srv.Restart()
	require.Eventually(t, func() bool { return len(srv.Creates()) == 2 && srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)
	seq := srv.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(time.Minute), Level: "info", JobID: jobtailtest.JobDead, Message: "after restart"})
	require.Equal(t, uint64(1), seq, "the restarted server numbers from 1")
	srv.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(time.Minute + time.Second), Level: "info", JobID: jobtailtest.JobDead, Message: "and then"})

	e, _ := nextEntry(t, ch)
	assert.Equal(t, "after restart", e.Message)
	e, _ = nextEntry(t, ch)
	assert.Equal(t, "and then", e.Message)
}

func TestFollowOverTLSWithToken(t *testing.T) {
	srv := jobtailtest.NewTLS(t)
	srv.Token = "tls-token"
	srv.Seed(base)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	// host:port with a CA file means https, and the stream goes over wss.
	c, err := jobtailclient.New(jobtailclient.Options{Endpoint: srv.Endpoint(), Token: "tls-token", CAFile: caFile})
	require.NoError(t, err)
	require.Equal(t, "https://"+srv.Endpoint()+"/api/v1", c.BaseURL())
	ch, stop := followJob(t, c, jobtailtest.JobOK)
	defer stop()
	e, _ := nextEntry(t, ch)
	assert.Equal(t, "job started", e.Message)

	// Without the token the stream cannot be created, and following stops instead of retrying.
	noTok, err := jobtailclient.New(jobtailclient.Options{Endpoint: srv.Endpoint(), CAFile: caFile})
	require.NoError(t, err)
	var last jobtailclient.Event
	for ev := range noTok.Follow(context.Background(), jobtailclient.StreamRequest{Options: jobtailclient.StreamOptions{Follow: true}}, jobtailclient.FollowOptions{}) {
		last = ev
	}
	var ae *jobtailclient.APIError
	require.ErrorAs(t, last.Err, &ae)
	assert.Equal(t, http.StatusUnauthorized, ae.StatusCode)
}
