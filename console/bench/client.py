"""HTTP to the benchmark's own server on loopback, without following redirects."""

# ruff: noqa: S310 - opens only the http://127.0.0.1 URLs the benchmark builds.

import urllib.error
import urllib.request


def http_get(url: str, headers: dict | None = None, timeout: float = 30):
    """(status, body, headers) without following redirects."""
    return _http(urllib.request.Request(url, headers=headers or {}), timeout)


def http_post(url: str, body: str, timeout: float = 30):
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "text/plain"}, method="POST"
    )
    return _http(request, timeout)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _http(request, timeout: float):
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace"), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), exc.headers
