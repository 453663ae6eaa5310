"""Usage: state.py ID... — Celery's own view of each task through its result API."""
import json
import sys

from celeryapp import app

for tid in sys.argv[1:]:
    r = app.AsyncResult(tid)
    print(json.dumps({
        "jid": tid,
        "status": r.state,
        "retries": r.retries,
        "queue": r.queue,
        "name": r.name,
        "error": str(r.result) if r.failed() else None,
        "error_type": type(r.result).__name__ if r.failed() else None,
    }))
