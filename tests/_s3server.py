"""moto's S3 server on 127.0.0.1 for the tests, counting what it sends (shared by test_storage and test_cluster).

Production uses a real object store; moto's server speaks the same S3 protocol over real HTTP, so
s3fs's requests (ranged GETs, ListObjectsV2 pages, multipart uploads) can be counted at the server.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator

#: fake credentials: the only endpoint ever contacted is the moto server on 127.0.0.1
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true"}


class CountingS3:
    """moto's S3 app behind a WSGI layer that counts, per request path, the body bytes the server sent."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.sent: dict[str, int] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, query)
        self._lock = threading.Lock()
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, self._counting(app), threaded=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _counting(self, app: Any) -> Any:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
            path = environ.get("PATH_INFO", "")
            with self._lock:
                self.requests.append((environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", "")))
            for chunk in app(environ, start_response):
                if environ["REQUEST_METHOD"] == "GET":
                    with self._lock:
                        self.sent[path] = self.sent.get(path, 0) + len(chunk)
                yield chunk
        return wrapped

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.requests.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
