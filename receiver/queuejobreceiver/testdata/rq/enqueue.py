"""Usage: enqueue.py REDIS_URL FUNC COUNT RETRIES [INTERVAL] — enqueues COUNT jobs of
rqtasks.FUNC on queue "default", each with a W3C traceparent in job.meta (RETRIES retries,
INTERVAL seconds apart: a retry with an interval waits in rq:scheduled:default), and prints one
JSON line per job."""
import json
import secrets
import sys

from redis import Redis
from rq import Queue, Retry

url, func, count, retries = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
interval = int(sys.argv[5]) if len(sys.argv) > 5 else 0
q = Queue("default", connection=Redis.from_url(url))
for i in range(count):
    trace_id = secrets.token_hex(16)
    tp = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    kw = {"meta": {"traceparent": tp}}
    if retries:
        kw["retry"] = Retry(max=retries, interval=interval)
    job = q.enqueue(f"rqtasks.{func}", i, **kw)
    print(json.dumps({"jid": job.id, "class": f"rqtasks.{func}", "trace_id": trace_id}))
