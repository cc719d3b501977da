"""Corporate proxies: the standard HTTP(S)_PROXY / NO_PROXY variables route orq-mcp's requests to orq."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.serving.upstream import proxy_for
from tests.cli.test_commands import run
from tests.conftest import API_KEY

BEHIND_PROXY = "http://api.orq.example"  # never resolved: only the proxy knows where it is


class ForwardingProxy(ThreadingHTTPServer):
    """A plain-HTTP forward proxy on loopback that sends every request on to the emulator and notes its host."""

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.upstream = upstream
        self.hosts: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ProxyHandler(BaseHTTPRequestHandler):
    server: ForwardingProxy

    def do_GET(self) -> None:
        target = urlsplit(self.path)  # a proxy receives the absolute URL
        self.server.hosts.append(target.netloc)
        query = f"?{target.query}" if target.query else ""
        forwarded = urllib.request.Request(f"{self.server.upstream}{target.path}{query}", headers=dict(self.headers))
        with urllib.request.urlopen(forwarded, timeout=10) as upstream:  # the emulator, on loopback
            body = upstream.read()
            self.send_response(upstream.status)
            self.send_header("Content-Type", upstream.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy(emulator: EmulatorThread) -> Iterator[ForwardingProxy]:
    server = ForwardingProxy(emulator.base_url.rstrip("/"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_check_reaches_orq_through_the_proxy_the_environment_names(
    proxy: ForwardingProxy, emulator_state: EmulatorState, variable: str
) -> None:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": BEHIND_PROXY, "ORQ_MAX_RETRIES": "0", variable: proxy.url}
    done = run("check", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "API key accepted" in done.stdout
    assert set(proxy.hosts) == {"api.orq.example"}


def test_no_proxy_and_loopback_go_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.delenv("https_proxy", raising=False)
    assert proxy_for("https://api.orq.ai") == "http://proxy.corp.example:3128"
    assert proxy_for("http://127.0.0.1:8123") is None  # the sandbox's emulator
    monkeypatch.setenv("NO_PROXY", ".orq.ai")
    assert proxy_for("https://api.orq.ai") is None
