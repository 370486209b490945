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
