"""gunicorn's configuration for the portal (``gunicorn -c deploy/gunicorn.conf.py portal.wsgi``).

Sync workers: each request holds one process and one persistent PostgreSQL connection
(CONN_MAX_AGE); the hot paths are short database work, so more processes, not threads, add
throughput (bench/hot_paths.py). Every setting can be overridden by the environment for the size
of the machine: WEB_CONCURRENCY (processes; default 2 per CPU + 1), PORT, GUNICORN_TIMEOUT.
"""

import multiprocessing
import os

# No health check (SELECT 1) before each request reuses its connection: a dropped connection
# answers one request 503 with Retry-After and is replaced (portal/settings/production.py).
os.environ.setdefault("CONN_HEALTH_CHECKS", "0")

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# A request slower than this (seconds) is a stuck worker: WeChat calls time out after WECHAT_TIMEOUT.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))  # seconds to finish on SIGTERM
keepalive = 5  # seconds: behind a load balancer that reuses connections
# Recycle a process after about this many requests (jittered so they do not restart together).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
# The portal logs each request itself (one JSON line with its request_id, core.logging); gunicorn
# logs only its own errors, to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The client address and scheme come from the load balancer's headers only where core.net and
# SECURE_PROXY_SSL_HEADER are told to trust it; gunicorn itself trusts these from loopback only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
