"""A hostile HTTP server on 127.0.0.1 for fault-injection tests: each path answers in one ``mode``.

Modes (``FaultServer.serve(name, data, mode, **options)``):

* ``ok``: the file, honouring ``Range`` (206); ``stall_after=k`` sends k body bytes of the first response
  then holds the connection open without sending more (a process to kill mid-download).
* ``truncate``: announces the whole length, sends half, closes (every time).
* ``drip``: announces the whole length, then one byte every ``interval`` seconds.
* ``inflate``: ``Content-Encoding: gzip`` whose body inflates to ``inflated`` zero bytes (a gzip bomb).
* ``endless``: no length, zeros until the client hangs up.
* ``html``: a login page (``text/html``) instead of the file.
* ``5xx``: ``status`` (503 by default) with an error body.
"""
import gzip
import re
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: closing ends the body

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        server = self.server.fault
        name = unquote(urlparse(self.path).path).lstrip("/")
        with server.lock:
            server.gets[name] += 1
            count = server.gets[name]
            server.ranges[name].append(self.headers.get("Range"))
        entry = server.paths.get(name)
        if entry is None:
            self.send_error(404)
            return
        data, mode, opts = entry
        try:
            getattr(self, "_" + mode.replace("5xx", "error"))(data, opts, count)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _head(self, status, headers):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def _ok(self, data, opts, count):
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        start = int(match.group(1)) if match else 0
        body = data[start:]
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(body))}
        if match:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        self._head(206 if match else 200, headers)
        stall = opts.get("stall_after")
        if stall is not None and count == 1:
            self.wfile.write(body[:stall])
            self.wfile.flush()
            self.server.fault.stalled.set()
            self.server.fault.release.wait(30)  # until the test ends
            return
        self.wfile.write(body)

    def _truncate(self, data, opts, count):
        self._head(200, {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        self.wfile.write(data[: len(data) // 2])

    def _drip(self, data, opts, count):
        self._head(200, {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        for i in range(len(data)):
            if self.server.fault.release.wait(opts.get("interval", 0.05)):
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()

    def _inflate(self, data, opts, count):
        body = self.server.fault.bomb(opts.get("inflated", 64 << 20))
        self._head(200, {"Content-Type": "application/octet-stream", "Content-Encoding": "gzip",
                         "Content-Length": str(len(body))})
        self.wfile.write(body)

    def _endless(self, data, opts, count):
        self._head(200, {"Content-Type": "application/octet-stream"})
        block = bytes(1 << 16)
        while not self.server.fault.release.is_set():
            self.wfile.write(block)

    def _html(self, data, opts, count):
        self._head(200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(HTML))})
        self.wfile.write(HTML)

    def _error(self, data, opts, count):
        self.send_error(opts.get("status", 503))


class FaultServer:
    """Serves named paths in chosen fault modes from a background thread; ``with`` starts and stops it."""

    def __init__(self):
        self.paths = {}
        self.lock = threading.Lock()
        self.gets = Counter()
        self.ranges = defaultdict(list)
        self.stalled = threading.Event()  # set once an ``ok`` path with stall_after has sent its bytes
        self.release = threading.Event()  # set at shutdown: ends stalls, drips and endless bodies
        self._bombs = {}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fault = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def serve(self, name, data=b"", mode="ok", **opts):
        """Answer GETs of ``/name`` in ``mode`` (see the module docstring); returns its URL."""
        self.paths[name] = (data, mode, opts)
        return self.url(name)

    def url(self, name):
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{name}"

    def bomb(self, size):
        """gzip of ``size`` zero bytes (about 1000 times smaller), made once per size."""
        if size not in self._bombs:
            self._bombs[size] = gzip.compress(bytes(size), compresslevel=9)
        return self._bombs[size]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        time.sleep(0)  # let handler threads see the release
        return False
