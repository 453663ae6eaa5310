#!/usr/bin/env bash
# make durable: the collector with the durable tier (examples/durable.yaml), on local ports,
# data under ./var, in the foreground until Ctrl-C:
#   1. VictoriaLogs (bin/victoria-logs) on $VL_ADDR (default 127.0.0.1:9428), data in
#      var/victoria-logs, 7 days retention;
#   2. Jaeger v2 (bin/jaeger) with Badger in var/jaeger (examples/durable-jaeger.yaml): OTLP/gRPC
#      on $JAEGER_OTLP_GRPC (127.0.0.1:14317), query API and UI on $JAEGER_QUERY_HTTP
#      (127.0.0.1:16686);
#   3. the collector with collector.yaml + examples/durable.yaml. It reads the queue at
#      $REDIS_ENDPOINT (collector.yaml's default, localhost:6379) and worker logs at
#      $WORKER_LOGS (./var/worker-logs/*.log); point them at your queue.
# Stop it and start it again: the jobs, their logs and traces are still there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VL_ADDR="${VL_ADDR:-127.0.0.1:9428}"
JAEGER_OTLP_GRPC="${JAEGER_OTLP_GRPC:-127.0.0.1:14317}"
JAEGER_OTLP_HTTP="${JAEGER_OTLP_HTTP:-127.0.0.1:14318}"
JAEGER_QUERY_HTTP="${JAEGER_QUERY_HTTP:-127.0.0.1:16686}"
JAEGER_QUERY_GRPC="${JAEGER_QUERY_GRPC:-127.0.0.1:16685}"
OTELCOL="${JOBTRACE_BINARY:-$ROOT/otelcol-dev/otelcol-jobtrace}"
VAR="$ROOT/var"

for b in "$ROOT/bin/victoria-logs" "$ROOT/bin/jaeger" "$OTELCOL"; do
	[[ -x "$b" ]] || { echo "durable: $b is missing (make victorialogs jaeger build)" >&2; exit 2; }
done
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
for ep in "$VL_ADDR" "$JAEGER_OTLP_GRPC" "$JAEGER_OTLP_HTTP" "$JAEGER_QUERY_HTTP" "$JAEGER_QUERY_GRPC"; do
	if port_busy "$ep"; then
		echo "durable: $ep is already in use; set VL_ADDR / JAEGER_* to free ports" >&2
		exit 2
	fi
done

mkdir -p "$VAR/victoria-logs" "$VAR/jaeger" "$VAR/worker-logs" "$VAR/log"
PIDS=()
cleanup() {
	trap - EXIT INT TERM
	# Collector first, so its queues drain into stores that are still up.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -INT "${PIDS[i]}" 2>/dev/null || true
		wait "${PIDS[i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT INT TERM

wait_http() { # url name pid
	for _ in $(seq 1 300); do
		curl -fsS "$1" >/dev/null 2>&1 && return 0
		kill -0 "$3" 2>/dev/null || { echo "durable: $2 exited; see $VAR/log/$2.log" >&2; exit 1; }
		sleep 0.2
	done
	echo "durable: $2 did not come up at $1" >&2
	exit 1
}

"$ROOT/bin/victoria-logs" -httpListenAddr="$VL_ADDR" -storageDataPath="$VAR/victoria-logs" \
	-retentionPeriod=7d -loggerLevel=WARN >"$VAR/log/victoria-logs.log" 2>&1 &
PIDS+=($!)
wait_http "http://$VL_ADDR/health" victoria-logs "${PIDS[-1]}"

JAEGER_DATA="$VAR/jaeger" JAEGER_OTLP_GRPC="$JAEGER_OTLP_GRPC" JAEGER_OTLP_HTTP="$JAEGER_OTLP_HTTP" \
	JAEGER_QUERY_HTTP="$JAEGER_QUERY_HTTP" JAEGER_QUERY_GRPC="$JAEGER_QUERY_GRPC" \
	"$ROOT/bin/jaeger" --config "$ROOT/examples/durable-jaeger.yaml" >"$VAR/log/jaeger.log" 2>&1 &
PIDS+=($!)
wait_http "http://$JAEGER_QUERY_HTTP/api/v3/services" jaeger "${PIDS[-1]}"

echo "durable: VictoriaLogs http://$VL_ADDR (vmui: http://$VL_ADDR/select/vmui), Jaeger UI http://$JAEGER_QUERY_HTTP"
echo "durable: collector logs in $VAR/log/collector.log; Ctrl-C stops all three"
VICTORIALOGS_ENDPOINT="http://$VL_ADDR" JAEGER_OTLP_ENDPOINT="$JAEGER_OTLP_GRPC" \
	JAEGER_QUERY_ENDPOINT="http://$JAEGER_QUERY_HTTP" \
	"$OTELCOL" --config "$ROOT/collector.yaml" --config "$ROOT/examples/durable.yaml" \
	>"$VAR/log/collector.log" 2>&1 &
PIDS+=($!)
wait "${PIDS[-1]}"
