"""gunicorn's settings for the web process; gunicorn reads this file from the working directory,
and flags on its command line win.

What bench/api_earn.py measured best on 2 cores: a worker process per core with four threads
each, so one thread runs Python while others wait for PostgreSQL. More processes than cores
only made them take turns (and spread keep-alive connections unevenly: a worse p99).
"""

import multiprocessing
import os

worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS") or multiprocessing.cpu_count())
threads = int(os.environ.get("WEB_THREADS") or 4)


# Prometheus counts from every worker process add up on /metrics when PROMETHEUS_MULTIPROC_DIR
# names a folder they share (docker-compose.yml sets one): emptied when gunicorn starts, and a
# dead worker's live gauges dropped.
def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
