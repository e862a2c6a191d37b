"""Container health check: GET ``http://127.0.0.1:$ADX_HTTP_PORT<path>``; exit 0 on HTTP 200.

Runs inside the image (``python /app/healthcheck.py /health/ready``) with the standard library
only, so the image needs no curl. The port is the process's own ``ADX_HTTP_PORT`` (default 8080,
the gateway's); every compose service and Kubernetes Deployment sets it explicitly.
"""

from __future__ import annotations

import http.client
import os
import sys

DEFAULT_PORT = 8080
TIMEOUT_SECONDS = 4.0


def check(path: str, port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read(512).decode("utf-8", "replace")
    except OSError as error:
        print(f"unhealthy: {path} on port {port}: {error}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if response.status != 200:
        print(f"unhealthy: {path} on port {port}: HTTP {response.status} {body}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/health/live"
    port = int(os.environ.get("ADX_HTTP_PORT") or DEFAULT_PORT)
    return check(path, port)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
