"""Jobs for the queuejob receiver's RQ integration test (run by `rq worker --path`)."""
import os
import time

from rq import get_current_job

MARKS = os.environ["JOBTRACE_MARKS"]


def ok(n):
    time.sleep(0.02)
    return n


def flaky(n):
    """Fails its first attempt only; a marker file remembers it across the retry."""
    mark = os.path.join(MARKS, get_current_job().id)
    if not os.path.exists(mark):
        open(mark, "w").close()
        raise ValueError(f"flaky first attempt {n}")
    return n


def fail(n):
    raise RuntimeError(f"always fails {n}")


def slow(n):
    open(os.path.join(MARKS, "slow-running"), "w").close()
    time.sleep(60)
