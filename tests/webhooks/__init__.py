"""A real HTTP receiver for webhook tests: a ThreadingHTTPServer on 127.0.0.1, port 0."""

from __future__ import annotations

import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client: tuple = ()  # the sender's (host, port): one port for several means a kept connection


class Receiver:
    """Records every request; answers with the queued status codes, then `default_status`.
    `delay` seconds before answering simulate a slow partner (released at shutdown). It closes
    each connection after its answer unless `keep_alive` is set. `on_request`, if set, is called
    (in the server's thread) as each request arrives, before the answer. `drops` requests (the
    next ones) are read and then their connection closed without an answer, as a partner's
    server does that ends a kept-alive connection just as a request arrives on it."""

    def __init__(self):
        self.requests: list[ReceivedRequest] = []
        self.statuses: deque[int] = deque()
        self.default_status = 200
        self.delay = 0.0
        self.keep_alive = False
        self.on_request = None
        self.drops = 0
        self.in_flight = 0  # requests being answered now
        self.most_in_flight = 0  # the most at once
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if receiver.on_request is not None:
                    receiver.on_request()
                with receiver._lock:
                    receiver.requests.append(
                        ReceivedRequest(
                            "POST", self.path, dict(self.headers.items()), body, self.client_address
                        )
                    )
                    drop = receiver.drops > 0
                    receiver.drops -= drop
                    status = (
                        receiver.statuses.popleft()
                        if receiver.statuses and not drop
                        else receiver.default_status
                    )
                if drop:
                    self.close_connection = True
                    return
                with receiver._lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                if receiver.delay:
                    receiver._released.wait(receiver.delay)
                with receiver._lock:
                    receiver.in_flight -= 1
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "2")
                    if not receiver.keep_alive:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/hook") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
