# Shared set-up steps for scripts/demo and scripts/test (sourced, not run).
# Idempotent: each step checks before it acts, so a second run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m错误 / error:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "需要 root 权限安装系统软件包 / root is needed to install system packages. Run: su -c '$*'"
    fi
}

# Debian/Ubuntu packages: Pango for WeasyPrint, libharfbuzz-subset0 so fonts are subset in C
# (without it a one-page CJK PDF takes seconds), python3-venv for the virtualenv.
ensure_debs() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "please install: ${missing[*]}"
    say "安装系统软件包 / installing system packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    return 1
}

ensure_venv() {
    local extras="$1"
    local python
    python="$(find_python)" || { ensure_debs python3 python3-venv; python="$(find_python)" ||
        die "archiveprint needs Python 3.11 or newer (Debian 12 / Ubuntu 24.04 have it)"; }
    if [ ! -x "$VENV/bin/python" ]; then
        say "创建虚拟环境 / creating virtualenv (.venv) with $python"
        "$python" -m venv "$VENV" 2>/dev/null || { ensure_debs python3-venv; rm -rf "$VENV"; "$python" -m venv "$VENV"; }
    fi
    local stamp="$VENV/.installed-$extras"
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        say "安装 Python 依赖 / installing Python dependencies ($extras)"
        local target="$ROOT"
        [ "$extras" = base ] || target="$ROOT[$extras]"
        { "$VENV/bin/pip" install -q --upgrade pip && "$VENV/bin/pip" install -q -e "$target"; } \
            >"$VENV/pip.log" 2>&1 || { cat "$VENV/pip.log" >&2; die "pip install failed (log: $VENV/pip.log)"; }
        touch "$stamp"
    fi
}

ensure_runtime_debs() {
    ensure_debs libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
}

# PostgreSQL at 127.0.0.1:5432 (started if it is down, installed if absent). Exports TEST_DATABASE_URL: a server
# URL whose role may create databases (the tests and deploy/stack-smoke.sh create their own and drop them).
ensure_postgres() {
    export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
    pg_ready || {
        if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then ensure_debs postgresql; fi
        say "启动 PostgreSQL / starting PostgreSQL"
        for version in $(ls /etc/postgresql); do
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
        done
        for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
        if ! pg_ready; then
            # A fresh install asks for passwords on TCP: give the tests a role of their own.
            as_root su postgres -c "psql -q -c \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'archiveprint') THEN CREATE ROLE archiveprint LOGIN CREATEDB PASSWORD 'archiveprint'; END IF; END \\\$\\\$;\""
            export TEST_DATABASE_URL="postgresql+psycopg://archiveprint:archiveprint@127.0.0.1:5432/postgres"
            pg_ready || die "PostgreSQL is not reachable at 127.0.0.1:5432; set TEST_DATABASE_URL"
        fi
    }
}

pg_ready() { "$VENV/bin/python" - "$TEST_DATABASE_URL" <<'PY' 2>/dev/null
import sys, sqlalchemy
sqlalchemy.create_engine(sys.argv[1]).connect().close()
PY
}

# Redis at 127.0.0.1:6379, for the job queue (started if it is down, installed if absent).
ensure_redis() {
    redis_ready && return 0
    command -v redis-server >/dev/null 2>&1 || ensure_debs redis-server
    say "启动 Redis / starting Redis"
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /tmp --logfile /tmp/archiveprint-redis.log
    for _ in $(seq 30); do redis_ready && return 0; sleep 0.2; done
    die "Redis is not reachable at 127.0.0.1:6379"
}

redis_ready() { "$VENV/bin/python" -c 'import redis; redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()' 2>/dev/null; }
