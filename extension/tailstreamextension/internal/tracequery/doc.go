// Package tracequery is the trace half of the tailstream extension: the query service behind
// the jobs, traces and correlation endpoints. It owns the trace cache, the job catalog and the
// tracing backends, and knows nothing of HTTP: handlers parse a request, call one method here
// and render what it returns (the model is Jaeger v2's query service).
//
// Entry points of Service:
//
//   - Construction and settings: New, Apply, Update, Settings, Modified, SetMetrics,
//     SetClientFactory, Shutdown. Settings are the trace side's runtime settings (cache and
//     catalog bounds, trace_url template, backends); Update is the serialised
//     read-modify-write behind PUT /config/tracing.
//   - Ingestion, called on the pipeline's goroutine and never blocking: IngestTraces (spans
//     into the cache; job spans, see IsJobSpan, into the catalog) and IngestLogs (lifecycle
//     logs, see EventObservation, into the catalog).
//   - Jobs: Jobs (the job list), Job (one job, scope-checked: the catalog, then
//     Options.Jobs), JobTrace (job→trace from the catalog and the cache only), Attempts.
//   - Traces: Trace (cache, then every backend at once with one shared fetch per trace, merged
//     into the cache; scope-checked), Summary and Summarize (plain structs; Summary.AppendJSON
//     writes them fast), Spans (paged full spans), CriticalPath, TraceURL, TraceAllowed.
//   - Correlation: Correlate (attempts, trace contexts, the timeline) taking the job's log
//     entries as an argument, built from JobSpans, ParentJobs, ChildJobs, JobSubtree.
//   - Scope per span: ScopeSpans keeps the spans a scoped caller may see (in-scope jobs'
//     subtrees and job-less spans); Summary, Spans and Correlate apply it.
//   - Health: Health (backends, cache and catalog state), BackendStatuses.
//
// Scope is the caller's job visibility; the HTTP layer's principal implements it and
// Unscoped sees everything. A job outside the scope is reported as absent (ErrJobNotFound,
// ErrTraceNotFound), so its existence does not leak.
//
// Where later work plugs in:
//   - an explanation of a failure (attempts, spans, critical path, the job's logs) composes
//     Job, Attempts, JobSpans, JobSubtree and CriticalPath, like Correlate does;
//   - jobs from other sources enter the catalog through IngestTraces (IsJobSpan decides
//     which spans are a job's attempt);
//   - a durable store: a job absent from memory comes from a JobSource (Options.Jobs), which
//     can rebuild it from stored lifecycle logs with EventObservation and a jobcatalog; a
//     trace the cache lacks comes from the backends in Trace (Jaeger is one);
//   - finer scope rules: TraceAllowed admits a trace, ScopeSpans filters its spans.
package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
