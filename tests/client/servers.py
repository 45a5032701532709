"""Small HTTP/1.1 servers on 127.0.0.1 that misbehave in the ways the clients must survive."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

HEALTH = {"status": "ok", "database": "ok", "version": "t"}
HEALTH_BODY = json.dumps(HEALTH).encode()


class Health(BaseHTTPRequestHandler):
    """Answers every GET with the health document; notes each connection it served."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []
    """The client port of each request, in order: one port per TCP connection."""

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        self.answer()

    def answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(HEALTH_BODY)))
        self.end_headers()
        self.wfile.write(HEALTH_BODY)

    def log_message(self, *_args: object) -> None:
        pass


class ClosesWhenIdle(Health):
    """Answers one request per connection, then closes it without saying so."""

    def handle(self) -> None:
        self.handle_one_request()


class ClosesOnSecondRequest(Health):
    """Answers one request per connection, then reads the next and closes without an answer.

    The race a server's idle timeout makes: it closes just as the client sends on the kept
    connection.
    """

    def handle(self) -> None:
        self.handle_one_request()
        self.rfile.readline()


class Drops(Health):
    """Reads each request and closes the connection without an answer."""

    def handle(self) -> None:
        if self.rfile.readline():
            self.ports.append(self.client_address[1])


class Echo(Health):
    """Answers a POST with its own body."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Chunked(Health):
    """Answers in chunks of a few bytes."""

    def answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(HEALTH_BODY), 7):
            piece = HEALTH_BODY[start : start + 7]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class UntilClose(Health):
    """Answers without a length: the body ends when the connection does."""

    def answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(HEALTH_BODY)
        self.close_connection = True


@contextmanager
def serving(
    handler: type[Health], tls: ssl.SSLContext | None = None
) -> Iterator[tuple[str, list[int]]]:
    """(API URL, ports seen) of `handler` served on a free port until the block ends."""
    ports: list[int] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (handler,), {"ports": ports}))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/api", ports
    finally:
        server.shutdown()
        server.server_close()


class Silent:
    """Accepts connections and reads requests, never answers; tells when a client hung up."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.requested = threading.Event()
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._hold, args=(connection,), daemon=True).start()

    def _hold(self, connection: socket.socket) -> None:
        with connection:
            while True:
                try:
                    data = connection.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.hung_up.set()
                    return
                self.requested.set()

    def close(self) -> None:
        self.listener.close()


class Gateway(Health):
    """A proxy's error page in Latin-1 for every request, as a gateway in front of the API."""

    PAGE = "<html>Passerelle défaillante</html>".encode("latin-1")

    def do_POST(self) -> None:
        self.do_GET()

    def answer(self) -> None:
        self.send_response(502)
        self.send_header("Content-Type", "text/html; charset=iso-8859-1")
        self.send_header("Content-Length", str(len(self.PAGE)))
        self.end_headers()
        self.wfile.write(self.PAGE)


class Compressed(Health):
    """Answers gzipped and sets a cookie, as a load balancer with sticky sessions might."""

    cookies: ClassVar[list[str | None]] = []
    """The Cookie header of each request, in order."""

    def answer(self) -> None:
        self.cookies.append(self.headers.get("Cookie"))
        body = gzip.compress(HEALTH_BODY)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Set-Cookie", "sticky=a1; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
