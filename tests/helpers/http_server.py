"""A real HTTP file server on 127.0.0.1 for download tests, with switchable misbehaviour per path.

It serves the files under a folder, honours ``Range`` requests (206), counts requests per path, and can
be told per path to fail the first N requests, serve an HTML page instead of the file, cut the
connection after K bytes, ignore ``Range``, or wait before answering.
"""
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

HTML_PAGE = b"<!DOCTYPE html>\n<html><body><p>Download quota exceeded.</p></body></html>\n"


@dataclass
class Behaviour:
    """How the server misbehaves for one path."""

    fail_first: int = 0  # answer the first N GETs with ``fail_status``
    fail_status: int = 500
    html: bool = False  # serve HTML_PAGE instead of the file
    html_content_type: str = "text/html; charset=utf-8"
    drop_after: int | None = None  # send only this many body bytes, then close the connection
    drop_times: int = 1  # ... for this many responses
    ignore_range: bool = False  # always answer 200 with the whole file
    delay: float = 0.0  # seconds to wait before answering


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so closing after a partial body is a clean "dropped" transfer.
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        state = self.server.state
        name = unquote(urlparse(self.path).path).lstrip("/")
        behaviour = state.behaviours.get(name, Behaviour())
        with state.lock:
            state.gets[name] += 1
            count = state.gets[name]
            state.range_headers[name].append(self.headers.get("Range"))
        if behaviour.delay:
            time.sleep(behaviour.delay)
        if count <= behaviour.fail_first:
            self.send_error(behaviour.fail_status)
            return
        if behaviour.html:
            self._send(200, HTML_PAGE, {"Content-Type": behaviour.html_content_type})
            return
        path = state.root / name
        if not name or not path.is_file():
            self.send_error(404)
            return
        self._send_file(path.read_bytes(), behaviour, name)

    def _send_file(self, data, behaviour, name):
        rng = None if behaviour.ignore_range else self.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        if match:
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(data) - 1
            if start >= len(data):
                self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            self._send(206, data[start:end + 1], headers, behaviour, name)
        else:
            self._send(200, data, headers, behaviour, name)

    def _send(self, status, body, headers, behaviour=None, name=None):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        state = self.server.state
        if behaviour is not None and behaviour.drop_after is not None and len(body) > behaviour.drop_after:
            with state.lock:
                drop = state.drops[name] < behaviour.drop_times
                state.drops[name] += drop
            if drop:
                body = body[:behaviour.drop_after]
        self.wfile.write(body)


class _State:
    def __init__(self, root):
        self.root = Path(root)
        self.lock = threading.Lock()
        self.behaviours = {}
        self.gets = Counter()
        self.drops = Counter()
        self.range_headers = defaultdict(list)


class LocalHTTPServer:
    """Serves ``root`` on 127.0.0.1 at a random port from a background thread."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._state = _State(self.root)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.state = self._state
        # A short poll interval makes shutdown (once per test) quick.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, name):
        return f"{self.base_url}/{name}"

    def add_file(self, name, data):
        """Serve ``data`` (bytes) at ``/name``; returns the file's path on disk."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def behave(self, name, **options):
        """Set how the server misbehaves for ``/name`` (see Behaviour for the options)."""
        self._state.behaviours[name] = Behaviour(**options)

    def gets(self, name):
        """How many GET requests ``/name`` has received."""
        with self._state.lock:
            return self._state.gets[name]

    def total_gets(self):
        with self._state.lock:
            return sum(self._state.gets.values())

    def range_headers(self, name):
        """The Range header of each GET of ``/name`` (None where absent), in order."""
        with self._state.lock:
            return list(self._state.range_headers[name])

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
