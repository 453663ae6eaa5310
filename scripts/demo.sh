#!/usr/bin/env bash
# make demo: a self-contained jobtrace demo.
#
# Starts, in the foreground until Ctrl-C:
#   1. a PRIVATE redis-server on 127.0.0.1:$DEMO_REDIS_PORT (default 16379) with no persistence,
#      so the demo never touches a real queue (never 6379 db 0);
#   2. the built collector (otelcol-dev/otelcol-jobtrace) with collector.yaml, its tailstream
#      API on $TAILSTREAM_ENDPOINT (default localhost:8088, what `make tui` connects to);
#   3. jobsim, a go-redis-work-queue simulator, producing jobs that succeed, retry, get
#      abandoned and dead-letter, with zap worker logs the collector tails, and over OTLP the
#      enqueue spans and each attempt's nested worker spans (a failing one with an exception
#      event, next to an ERROR line), so that `e` in the TUI and `jobtail explain` have a
#      failure to explain within the first minute.
# Then run `make tui` in another terminal.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

REDIS_PORT="${DEMO_REDIS_PORT:-16379}"
TAIL="${TAILSTREAM_ENDPOINT:-localhost:8088}"
OTLP_HTTP="${DEMO_OTLP_HTTP_ENDPOINT:-127.0.0.1:14318}"
OTLP_GRPC="${DEMO_OTLP_GRPC_ENDPOINT:-127.0.0.1:14317}"
HEALTH="${DEMO_HEALTH_ENDPOINT:-127.0.0.1:13134}"
METRICS_PORT="${DEMO_METRICS_PORT:-18888}"
DURATION="${DEMO_DURATION:-1h}"
OTELCOL="${JOBTRACE_BINARY:-$ROOT/otelcol-dev/otelcol-jobtrace}"

if [[ "$REDIS_PORT" == "6379" ]]; then
	echo "demo: refusing to use port 6379: the demo runs its own redis-server" >&2
	exit 2
fi

port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
for ep in "127.0.0.1:$REDIS_PORT" "${TAIL/localhost/127.0.0.1}" "$OTLP_HTTP" "$OTLP_GRPC" "$HEALTH" "127.0.0.1:$METRICS_PORT"; do
	if port_busy "$ep"; then
		echo "demo: $ep is already in use; set the matching DEMO_* / TAILSTREAM_ENDPOINT variable" >&2
		exit 2
	fi
done
command -v redis-server >/dev/null || { echo "demo: redis-server is not installed" >&2; exit 2; }
[[ -x "$OTELCOL" ]] || { echo "demo: no collector binary at $OTELCOL; run make build" >&2; exit 2; }

WORK="$(mktemp -d -t jobtrace-demo.XXXXXX)"
mkdir -p "$WORK/worker-logs"
PIDS=()
cleanup() {
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "demo: work dir $WORK"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
	--logfile "$WORK/redis.log" &
PIDS+=($!)

go build -o "$WORK/jobsim" ./cmd/jobsim

REDIS_ENDPOINT="127.0.0.1:$REDIS_PORT" REDIS_DB=0 TAILSTREAM_ENDPOINT="$TAIL" \
	OTLP_HTTP_ENDPOINT="$OTLP_HTTP" OTLP_GRPC_ENDPOINT="$OTLP_GRPC" HEALTH_ENDPOINT="$HEALTH" \
	METRICS_HOST=127.0.0.1 METRICS_PORT="$METRICS_PORT" WORKER_LOGS="$WORK/worker-logs/*.log" \
	"$OTELCOL" --config "$ROOT/collector.yaml" >"$WORK/collector.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 1 100); do
	if curl -fsS "http://$HEALTH/" >/dev/null 2>&1; then break; fi
	if ! kill -0 "${PIDS[1]}" 2>/dev/null; then
		echo "demo: the collector exited; its log:" >&2
		cat "$WORK/collector.log" >&2
		exit 1
	fi
	sleep 0.2
done

# About one job a second; half the attempts fail, two retries (so one job in eight is
# dead-lettered), so within a minute there
# are successes, retries, abandoned jobs and dead letters.
"$WORK/jobsim" --redis "127.0.0.1:$REDIS_PORT" --jobs 0 --duration "$DURATION" --rate 1 \
	--workers 3 --fail-ratio 0.5 --abandon-ratio 0.03 --heartbeat-ttl 5s --max-retries 2 \
	--retry-backoff 2s --work-time 800ms --carrier w3c \
	--log-file "$WORK/worker-logs/worker.log" --otlp-endpoint "http://$OTLP_HTTP" >"$WORK/jobsim.log" 2>&1 &
PIDS+=($!)

cat <<EOF
demo: running. In another terminal:

    make tui                     # or: go run ./cmd/jobtail --endpoint $TAIL
                                 # e on a job: why it failed; the strip on top: per-queue figures
    go run ./cmd/jobtail jobs --endpoint $TAIL --status dead_lettered
    go run ./cmd/jobtail explain --endpoint $TAIL <job-id>   # exit 1 when the job failed
    go run ./cmd/jobtail queues --endpoint $TAIL

collector log: $WORK/collector.log   jobsim log: $WORK/jobsim.log
Ctrl-C stops redis-server, the collector and jobsim.
EOF
wait -n "${PIDS[@]}" || true
echo "demo: a process exited; stopping" >&2
