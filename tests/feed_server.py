"""A local HTTP server for the feed tests: threaded `http.server` on 127.0.0.1, a random port.

Each path answers with a `Reply`, or a function of the request (and the hit count) that returns
one, so that a test can script a server that fails, then recovers, stalls, or redirects.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    stall_seconds: float = 0.0  # wait this long before answering
    trickle_seconds: float = 0.0  # send the body a byte at a time, this long apart
    chunked: bool = False  # send the body in chunks, without a Content-Length
    header_trickle_seconds: float = 0.0  # send a never-ending header a byte at a time (for 10 s at most)


@dataclasses.dataclass
class Request:
    path: str
    headers: dict[str, str]
    hit: int  # 1 for the first request to this path


Route = Reply | Callable[[Request], Reply]


class Stall:
    """A route that answers only when released (or after 30 s): a server that stalls past any
    deadline. `answered` tells whether it had answered by the time a test looks."""

    def __init__(self, reply: Reply):
        self.reply = reply
        self.released = threading.Event()
        self.answered: list[Request] = []

    def __call__(self, request: Request) -> Reply:
        self.released.wait(30)
        self.answered.append(request)
        return self.reply

    def release(self) -> None:
        self.released.set()


class FeedServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.hits: Counter = Counter()
        self.requests: list[Request] = []
        self.hung_up: list[str] = []  # paths whose client hung up before the reply was sent
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with server.lock:
                    server.hits[self.path] += 1
                    request = Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                                      server.hits[self.path])
                    server.requests.append(request)
                route = server.routes.get(self.path, Reply(404, b"not here"))
                reply = route(request) if callable(route) else route
                time.sleep(reply.stall_seconds)
                try:
                    if reply.header_trickle_seconds:
                        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                        for _ in range(int(10 / reply.header_trickle_seconds)):
                            self.wfile.write(b"a")
                            self.wfile.flush()
                            time.sleep(reply.header_trickle_seconds)
                        return
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                    elif "Content-Length" not in reply.headers:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.chunked:
                        for start in range(0, len(reply.body), 8192):
                            piece = reply.body[start:start + 8192]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.write(b"0\r\n\r\n")
                    elif reply.trickle_seconds:
                        for byte in reply.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.trickle_seconds)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    server.hung_up.append(self.path)  # the client gave up, as it should

            def log_message(self, *args):
                pass

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that hangs up early is what several tests make happen

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "FeedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

