"""Tests that need a real Redis: CI starts one; elsewhere they skip when none answers."""

import os
import socket

import pytest


def require_redis() -> None:
    """Skip the calling test unless Redis answers on 127.0.0.1:6379 (never skip in CI)."""
    if os.environ.get("CI"):
        return
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("needs Redis on 127.0.0.1:6379 (CI starts it)")
