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
