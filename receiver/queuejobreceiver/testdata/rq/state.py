"""Usage: state.py REDIS_URL ID... — RQ's own view of each job through its API, one JSON line each."""
import json
import sys

from redis import Redis
from rq.job import Job

conn = Redis.from_url(sys.argv[1])
for jid in sys.argv[2:]:
    job = Job.fetch(jid, connection=conn)
    res = job.latest_result()
    print(json.dumps({
        "jid": jid,
        "status": job.get_status(),
        "origin": job.origin,
        "retries_left": job.retries_left,
        "result_type": res.type.name if res else None,
        "exc_string": res.exc_string if res else None,
        "results": len(job.results()),
    }))
