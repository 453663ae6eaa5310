// Package logstore reads log lines back from a durable log store, for what the extension's
// ring no longer (or never) held: lines from before a restart, older than the ring, or that
// reached another gateway. The store is written by the collector's own exporter (otlphttp to
// VictoriaLogs in examples/durable.yaml); this package only reads.
//
// Store is the small interface the extension uses; VictoriaLogs implements it with LogsQL, and
// logstoretest.Fake implements it in memory for the extension's tests.
package logstore // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"

import (
	"context"
	"errors"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// Type names of the implementations, as in the extension's store.logs.type.
const TypeVictoriaLogs = "victorialogs"

var (
	// ErrCircuitOpen means no request was made: the store failed too often lately.
	ErrCircuitOpen = errors.New("log store circuit breaker open")
	// ErrUnavailable wraps every failure to get an answer (connection, timeout, 5xx).
	ErrUnavailable = errors.New("log store unavailable")
)

// Query selects lines. Field filters are exact matches; empty fields match everything. The
// fields cover what the store can narrow by cheaply; the caller still applies its full filter
// and the caller's scope to every line it gets back, exactly as to the ring.
type Query struct {
	JobID     string
	TraceID   string
	WorkerID  string
	QueueName string
	Service   string
	// Queues, when not empty, keeps only lines of these queues (a scoped caller's queues).
	Queues []string
	// Lifecycle keeps only the queuejob receiver's lifecycle logs (event.name job_*).
	Lifecycle bool
	// ExcludeGateway leaves out the lines this gateway stored (GatewayField), as TailQuery.
	ExcludeGateway string

	// From (inclusive) and Until (exclusive) bound the line timestamps; zero is unbounded.
	From, Until time.Time
	// Offset lines at the start of the (time-ordered) result are skipped.
	Offset int
	// Limit bounds the lines returned (required, positive).
	Limit int
	// Newest returns the Limit newest lines instead of the oldest (still oldest first).
	Newest bool
	// Unordered skips the ordering: any Limit matching lines, in no particular order. A bulk
	// read (the catalog warm-up) that orders what it keeps itself saves the store a sort.
	Unordered bool
	// Fields, when set, returns only these fields of each line (less to send and decode for a
	// bulk read that needs a few).
	Fields []string
}

// Result is a page of lines, oldest first.
type Result struct {
	Entries []*ring.Entry
	// More is true when the store holds more matching lines beyond this page.
	More bool
}

// Health is a store's state for /health endpoints.
type Health struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Endpoint    string    `json:"endpoint"`
	Breaker     string    `json:"circuit_breaker"`
	Failures    int       `json:"consecutive_failures"`
	Queries     int64     `json:"queries"`
	Errors      int64     `json:"errors"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastOK      time.Time `json:"last_ok,omitzero"`
}

// Store reads lines back. Implementations are safe for concurrent use and bound every call
// by their own timeout and circuit breaker: a dead store costs one timeout per open period.
type Store interface {
	Query(ctx context.Context, q Query) (Result, error)
	Health() Health
}
