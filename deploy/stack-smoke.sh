#!/usr/bin/env bash
# The county stack on this machine, smoke-tested over HTTP (deploy/stack_smoke.py): PostgreSQL at 127.0.0.1:5432 and
# Redis at 127.0.0.1:6379 (started if they are down, installed if absent), 2 gunicorn web workers, 2 RQ workers, a
# fresh database dropped afterwards. .ci/run runs it after the test suite. Extra arguments go to stack_smoke.py.
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"

ensure_runtime_debs
ensure_venv test
ensure_postgres
ensure_redis

say "stack smoke test (gunicorn + RQ on PostgreSQL and Redis)"
exec "$VENV/bin/python" deploy/stack_smoke.py "$@"
