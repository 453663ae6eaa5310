"""Celery app for the queuejob receiver's integration test: Redis broker and result backend."""
import os
import time

from celery import Celery

url = os.environ["JOBTRACE_REDIS_URL"]
app = Celery("jobtrace_test", broker=url, backend=url)
# JOBTRACE_CELERY_EXTENDED=0 runs Celery's defaults: no result_extended, no task_track_started.
extended = os.environ.get("JOBTRACE_CELERY_EXTENDED", "1") == "1"
app.conf.update(
    result_extended=extended,  # name, worker, queue and retries on each result
    task_track_started=extended,  # a STARTED result while a task runs
    worker_prefetch_multiplier=1,
    # A killed worker's unacked message is restored after this long (kombu's default: 1 h).
    broker_transport_options={"visibility_timeout": 3},
)
MARKS = os.environ.get("JOBTRACE_MARKS", "/nonexistent")


@app.task
def ok(n):
    time.sleep(0.02)
    return n


@app.task(bind=True, max_retries=1)
def flaky(self, n):
    if self.request.retries == 0:
        raise self.retry(exc=ValueError(f"flaky first attempt {n}"), countdown=0.5)
    return n


@app.task(bind=True, max_retries=1)
def fail(self, n):
    # retry() raises the exception itself once max_retries is reached.
    raise self.retry(exc=RuntimeError(f"always fails {n}"), countdown=0.5)


@app.task(acks_late=True)
def slow(n):
    open(os.path.join(MARKS, "slow-running"), "w").close()
    time.sleep(60)
