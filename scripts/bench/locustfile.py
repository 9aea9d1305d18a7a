"""Locust (Debian's python3-locust) at a fixed rate, for manage.py bench_web's webhook step.

wrk offers as much load as the server takes; Wix delivers webhooks at a rate of its own, so
this step holds the rate instead: BENCH_USERS users (locust -u) each run at most
BENCH_USER_RATE requests per second (``constant_throughput``), e.g. 100 x 2 = 200/s.
BENCH_BODIES names a file of pre-signed webhooks (one per line, each sent once, in order);
without it the user GETs BENCH_PATH (the floor, measured at the same rate).
"""

import itertools
import os

from locust import FastHttpUser, constant_throughput, task

PATH = os.environ["BENCH_PATH"]
RATE = float(os.environ.get("BENCH_USER_RATE", "2"))
_bodies_file = os.environ.get("BENCH_BODIES")
_bodies = None
if _bodies_file:
    with open(_bodies_file) as handle:
        _bodies = itertools.cycle([line.strip() for line in handle if line.strip()])


class BenchUser(FastHttpUser):
    wait_time = constant_throughput(RATE)

    @task
    def hit(self) -> None:
        if _bodies is None:
            self.client.get(PATH, name="floor")
        else:
            self.client.post(
                PATH, data=next(_bodies), headers={"Content-Type": "text/plain"}, name="webhook"
            )
