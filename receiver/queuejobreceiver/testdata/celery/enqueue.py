"""Usage: enqueue.py TASK COUNT — sends COUNT tasks with a W3C traceparent message header (where
opentelemetry-instrumentation-celery injects it) and prints one JSON line per task."""
import json
import secrets
import sys

from celeryapp import app

task, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    trace_id = secrets.token_hex(16)
    tp = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    r = app.tasks[f"celeryapp.{task}"].apply_async(args=[i], headers={"traceparent": tp})
    print(json.dumps({"jid": r.id, "class": f"celeryapp.{task}", "trace_id": trace_id}))
