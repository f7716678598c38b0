"""Production gunicorn settings: ``gunicorn hostfactory.wsgi`` in this folder reads them (or
``gunicorn -c gunicorn.conf.py hostfactory.wsgi`` from anywhere). Every value can be set from
the environment; docs/security.md "Web server" says why each is what it is.
"""

import os

from hostfactory.logging import gunicorn_logging

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# Threads, so that a client that sends its body slowly holds one thread, not a whole worker:
# health and the Host Factory calls keep being served by the other threads.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Processes from the cores (gunicorn's 2n+1, at most 9). The memory store lives inside one
# process, so with STORAGE_TYPE=memory (development) there is exactly one.
_memory = os.environ.get("STORAGE_TYPE", "memory") == "memory"
workers = int(os.environ.get("GUNICORN_WORKERS", "1" if _memory else str(min(2 * (os.cpu_count() or 1) + 1, 9))))

# The time budget: one storage call gives up within 5 s (connect, read and retries), a request
# makes few of them, so 30 s is a worker that is stuck, not one that is slow.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))  # finish what is running on SIGTERM
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))  # below a load balancer's idle timeout (60 s on ALB)

# Request line and headers: bounded before the application sees them (414 / 400). Host lists
# travel in bodies (DATA_UPLOAD_MAX_MEMORY_SIZE), never in the line.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

# No access log of gunicorn's: the application writes one line per request itself, with its
# request id, user and operation (hostfactory/logging.py; docs/operations.md "Logs"), and a
# second line would log each request twice. gunicorn's own lines go to stderr, as JSON too
# with LOG_FORMAT=json.
accesslog = None
errorlog = "-"
logconfig_dict = gunicorn_logging(os.environ.get("LOG_FORMAT", "plain").strip().lower())
