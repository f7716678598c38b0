"""Settings of the HTTP benchmark's server: the production settings, plus one bench-only URL
(bench/urls.py) that never ships in hostfactory/urls.py."""

from hostfactory.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
