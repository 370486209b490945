"""`archiveprint serve` starts the real server (waitress) on a free port and serves the sign-in page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.waiting import eventually


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_page(url: str, server: subprocess.Popen, seconds: float = 30) -> str:
    def page() -> str | None:
        assert server.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            return None
    return eventually(page, what=f"{url} answered", seconds=seconds, every=0.2)


@pytest.mark.slow
def test_serve_answers_and_asks_anonymous_visitors_to_sign_in(committed_db, tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": committed_db.engine.url.render_as_string(hide_password=False),
           "ARCHIVEPRINT_INSTANCE": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-c", "from archiveprint.cli import main; main()", "serve",
                               "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert "登录" in wait_for_page(f"http://127.0.0.1:{port}/login", server)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{port}/?q=zsf", timeout=5)
        refused.value.close()
        assert refused.value.code == 302 and "/login" in refused.value.headers["Location"]
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()
    assert "zsf" not in output  # no access log with query strings
