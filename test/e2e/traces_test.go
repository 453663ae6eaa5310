package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/jobsim"
)

// getJSON GETs an API path of the collector's tailstream extension and decodes the answer.
func getJSON(t *testing.T, c *Collector, path string, out any) int {
	t.Helper()
	resp, err := http.Get(c.TailstreamURL + "/api/v1" + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out), path)
	}
	return resp.StatusCode
}

type e2eJob struct {
	ID       string `json:"id"`
	Queue    string `json:"queue"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	WorkerID string `json:"worker_id"`
	TraceID  string `json:"trace_id"`
}

// TestTraceDrillDownWithJobsim drives the built collector with jobsim and walks the trace API
// the way jobtail does: /jobs → /jobs/{id}/trace → /traces/{id}/summary → /correlation/{id},
// checking each answer against jobsim's ground truth.
func TestTraceDrillDownWithJobsim(t *testing.T) {
	c := StartCollector(t)
	cfg := jobsim.DefaultConfig()
	cfg.Redis = c.Redis.Addr
	cfg.Jobs = 16
	cfg.Rate = 20
	cfg.Workers = 3
	cfg.FailRatio = 0.35
	cfg.MaxRetries = 2
	// Long enough for the receiver's polls to catch jobs in their processing lists, which is
	// where worker ids come from.
	cfg.WorkTime = 250 * time.Millisecond
	cfg.Duration = 60 * time.Second
	cfg.Carrier = "w3c"
	cfg.Seed = 11
	cfg.LogFile = filepath.Join(c.Dir, "worker-logs", "jobsim.log")
	cfg.OTLPEndpoint = c.OTLPHTTPURL
	sum, err := jobsim.Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, cfg.Jobs, sum.Final(), "jobsim finished every job")
	require.NotZero(t, sum.Retried, "the run should retry some jobs: %+v", sum)

	// A retried job that reached its final state: the richest case for the drill-down.
	var want *jobsim.Job
	for _, id := range sortedJobIDs(sum.Jobs) {
		j := sum.Jobs[id]
		if len(j.Attempts) > 1 && (j.Outcome == jobsim.Succeeded || j.Outcome == jobsim.DeadLettered) {
			want = j
			break
		}
	}
	require.NotNil(t, want, "no retried job in the run")

	// 1. /jobs lists it, final, with all its attempts (the receiver polls, so wait).
	var listed e2eJob
	Eventually(t, 30*time.Second, func() bool {
		var page struct{ Jobs []e2eJob }
		if getJSON(t, c, "/jobs?limit=1000", &page) != http.StatusOK {
			return false
		}
		for _, j := range page.Jobs {
			if j.ID == want.ID && j.Attempts == len(want.Attempts) && j.Status == string(want.Outcome) {
				listed = j
				return true
			}
		}
		return false
	}, "job %s (%d attempts, %s) in /jobs", want.ID, len(want.Attempts), want.Outcome)
	assert.Equal(t, want.Queue, listed.Queue)
	assert.Equal(t, want.TraceID, listed.TraceID)
	// The receiver learns a worker only when a poll catches the job in a processing list.
	if listed.WorkerID != "" {
		assert.Equal(t, want.Attempts[len(want.Attempts)-1].WorkerID, listed.WorkerID)
	}

	var filtered struct{ Jobs []e2eJob }
	require.Equal(t, http.StatusOK, getJSON(t, c, "/jobs?limit=1000&status="+string(want.Outcome)+"&queue="+url.QueryEscape(want.Queue), &filtered))
	for _, j := range filtered.Jobs {
		assert.Equal(t, string(want.Outcome), j.Status)
		assert.Equal(t, want.Queue, j.Queue)
	}

	// 2. /jobs/{id}/trace points at jobsim's trace.
	var jt struct {
		TraceID    string  `json:"trace_id"`
		SpanID     string  `json:"span_id"`
		TraceURL   string  `json:"trace_url"`
		SpansCount int     `json:"spans_count"`
		Errors     int     `json:"errors"`
		DurationMS float64 `json:"duration_ms"`
		Format     string  `json:"format"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, c, "/jobs/"+url.PathEscape(want.ID)+"/trace", &jt))
	assert.Equal(t, want.TraceID, jt.TraceID)
	assert.Len(t, jt.SpanID, 16)
	assert.Contains(t, jt.TraceURL, want.TraceID)
	assert.GreaterOrEqual(t, jt.SpansCount, len(want.Attempts), "one job span per attempt")
	assert.GreaterOrEqual(t, jt.Errors, len(want.Attempts)-1, "failed attempts are error spans")
	assert.Positive(t, jt.DurationMS)

	// 3. The summary has every attempt's span, a critical path over known spans, and errors.
	var summary struct {
		TraceID      string   `json:"trace_id"`
		CriticalPath []string `json:"critical_path"`
		Spans        []struct {
			SpanID string            `json:"span_id"`
			Kind   string            `json:"kind"`
			Status string            `json:"status"`
			Tags   map[string]string `json:"tags"`
		} `json:"spans"`
		ErrorSpans []struct {
			SpanID string `json:"span_id"`
		} `json:"error_spans"`
		Services []struct {
			Name string `json:"name"`
		} `json:"services"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, c, "/traces/"+jt.TraceID+"/summary", &summary))
	assert.Equal(t, want.TraceID, summary.TraceID)
	spanIDs := map[string]bool{}
	attempts := map[string]string{} // job.attempt → job.status of this job's spans
	for _, s := range summary.Spans {
		spanIDs[s.SpanID] = true
		if s.Tags["job.id"] == want.ID && s.Kind == "consumer" {
			attempts[s.Tags["job.attempt"]] = s.Tags["job.status"]
		}
	}
	for _, a := range want.Attempts {
		assert.Equal(t, string(a.Outcome), attempts[strconv.Itoa(a.Number)], "attempt %d", a.Number)
	}
	require.NotEmpty(t, summary.CriticalPath)
	for _, id := range summary.CriticalPath {
		assert.True(t, spanIDs[id], "critical path span %s is a span of the trace", id)
	}
	assert.NotEmpty(t, summary.ErrorSpans)
	var services []string
	for _, s := range summary.Services {
		services = append(services, s.Name)
	}
	assert.Contains(t, services, "jobqueue")

	// 4. The correlation index: one trace context and one attempt per attempt, with jobsim's
	// workers and outcomes, and a time-ordered timeline.
	var corr struct {
		JobID         string `json:"job_id"`
		TraceContexts []struct {
			TraceID string `json:"trace_id"`
			Attempt int    `json:"attempt"`
		} `json:"trace_contexts"`
		Timeline []struct {
			Timestamp time.Time `json:"timestamp"`
			Type      string    `json:"type"`
		} `json:"timeline"`
		Relationships struct {
			Attempts []struct {
				Attempt  int    `json:"attempt"`
				Status   string `json:"status"`
				WorkerID string `json:"worker_id"`
			} `json:"attempts"`
			RelatedTraces []string `json:"related_traces"`
		} `json:"relationships"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, c, "/correlation/"+url.PathEscape(want.ID), &corr))
	assert.Equal(t, want.ID, corr.JobID)
	require.Len(t, corr.Relationships.Attempts, len(want.Attempts))
	for i, a := range want.Attempts {
		got := corr.Relationships.Attempts[i]
		assert.Equal(t, a.Number, got.Attempt)
		assert.Equal(t, string(a.Outcome), got.Status)
		if got.WorkerID != "" {
			assert.Equal(t, a.WorkerID, got.WorkerID)
		}
	}
	require.Len(t, corr.TraceContexts, len(want.Attempts))
	assert.Equal(t, want.TraceID, corr.TraceContexts[0].TraceID)
	assert.Contains(t, corr.Relationships.RelatedTraces, want.TraceID)
	types := map[string]bool{}
	for i, it := range corr.Timeline {
		types[it.Type] = true
		if i > 0 {
			assert.False(t, it.Timestamp.Before(corr.Timeline[i-1].Timestamp), "timeline in time order")
		}
	}
	assert.True(t, types["span"], "timeline has the job's spans")
	assert.True(t, types["log"] || types["event"], "timeline has the job's logs")

	// Unknown job and malformed trace id are client errors.
	assert.Equal(t, http.StatusNotFound, getJSON(t, c, "/jobs/no-such-job/trace", nil))
	assert.Equal(t, http.StatusBadRequest, getJSON(t, c, "/traces/XYZ/summary", nil))
}

func sortedJobIDs(m map[string]*jobsim.Job) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
