// Package bullmqtest runs the real-BullMQ workload of test/queues/bullmq (npm bullmq with
// bullmq-otel and the OTel Node SDK) against a test's private redis-server, and reads back the
// library's own view of every job. The npm packages live in the git-ignored cache
// .cache/npm-bullmq that .ci/run fills with `npm ci`.
package bullmqtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Job is one job as BullMQ's own API (Queue.getJobs, Job.getState) reports it.
type Job struct {
	ID             string   `json:"id"` // jobtrace's job.id: <queue>:<bullmq id>
	Queue          string   `json:"queue"`
	Name           string   `json:"name"`
	State          string   `json:"state"`
	AttemptsMade   int      `json:"attemptsMade"`
	AttemptsStart  int      `json:"attemptsStarted"`
	StalledCounter int      `json:"stalledCounter"`
	FailedReason   string   `json:"failedReason"`
	Stacktrace     []string `json:"stacktrace"`
	TraceID        string   `json:"traceId"`
}

// Error messages the workload's processors throw.
const (
	ErrFlaky = "flaky: first attempt fails"
	ErrBad   = "bad: always fails"
)

// Workload runs workload.js commands against one Redis port.
type Workload struct {
	t      testing.TB
	script string
	env    []string
}

// New finds node, the workload script and the npm cache; the test fails when they are
// missing (.ci/run installs them).
func New(t testing.TB, redisPort int, extraEnv ...string) *Workload {
	t.Helper()
	root := repoRoot(t)
	mods := filepath.Join(root, ".cache", "npm-bullmq", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "bullmq", "package.json")); err != nil {
		t.Fatalf("BullMQ npm packages missing in %s: run .ci/run (or its npm ci line)", mods)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: .ci/run installs nodejs")
	}
	env := append(os.Environ(), "NODE_PATH="+mods, "REDIS_PORT="+strconv.Itoa(redisPort))
	return &Workload{t: t, script: filepath.Join(root, "test", "queues", "bullmq", "workload.js"), env: append(env, extraEnv...)}
}

// Run runs one workload command and returns its stdout; it fails the test on error.
func (w *Workload) Run(args ...string) []byte {
	w.t.Helper()
	cmd := exec.Command("node", append([]string{w.script}, args...)...)
	cmd.Env = w.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			w.t.Fatalf("node workload.js %v: %v\n%s", args, err, errb.String())
		}
	case <-time.After(45 * time.Second):
		_ = cmd.Process.Kill()
		w.t.Fatalf("node workload.js %v did not finish in 45s\n%s", args, errb.String())
	}
	return out.Bytes()
}

// RunKilled runs a command that ends by SIGKILLing itself (the "stuck" worker) and returns
// its stdout.
func (w *Workload) RunKilled(args ...string) []byte {
	w.t.Helper()
	cmd := exec.Command("node", append([]string{w.script}, args...)...)
	cmd.Env = w.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
		w.t.Fatalf("node workload.js %v should have been killed, got %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// View is the library's own view of every job, keyed by jobtrace job id.
func (w *Workload) View() map[string]Job {
	w.t.Helper()
	out := map[string]Job{}
	sc := bufio.NewScanner(bytes.NewReader(w.Run("view")))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var j Job
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			w.t.Fatalf("bad view line %q: %v", sc.Text(), err)
		}
		out[j.ID] = j
	}
	return out
}

func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
