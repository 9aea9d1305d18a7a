"""Strict environment readers: a malformed value stops the process and names the variable.

django-environ parses URLs well, but its ``bool`` turns any unknown word (``DEBUG=maybe``)
into ``False`` silently; these wrappers refuse instead.
"""

import os

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _Missing:
    pass


MISSING = _Missing()


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return value.strip()


def _fail(name: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {name} {problem}")


def env_str(name: str, default: str | _Missing = MISSING, *, choices: tuple[str, ...] = ()) -> str:
    value = _raw(name)
    if value is None or value == "":
        if isinstance(default, _Missing):
            raise _fail(name, "is required but not set")
        value = default
    if choices and value not in choices:
        raise _fail(name, f"must be one of {', '.join(choices)} (got {value!r})")
    return value


def env_bool(name: str, default: bool | _Missing = MISSING) -> bool:
    value = _raw(name)
    if value is None or value == "":
        if isinstance(default, _Missing):
            raise _fail(name, "is required but not set")
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _fail(name, f"must be a boolean (true/false, 1/0, yes/no, on/off), got {value!r}")


def env_int(name: str, default: int | _Missing = MISSING, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        if isinstance(default, _Missing):
            raise _fail(name, "is required but not set")
        return default
    try:
        number = int(value)
    except ValueError:
        raise _fail(name, f"must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise _fail(name, f"must be at least {minimum}, got {number}")
    return number


def env_float(name: str, default: float | _Missing = MISSING, *, minimum: float = 0.0) -> float:
    value = _raw(name)
    if value is None or value == "":
        if isinstance(default, _Missing):
            raise _fail(name, "is required but not set")
        return default
    try:
        number = float(value)
    except ValueError:
        raise _fail(name, f"must be a number, got {value!r}") from None
    if number < minimum:
        raise _fail(name, f"must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str] | _Missing = MISSING) -> list[str]:
    value = _raw(name)
    if value is None or value == "":
        if isinstance(default, _Missing):
            raise _fail(name, "is required but not set")
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_db(name: str, default: str | _Missing = MISSING) -> dict:
    url = env_str(name, default)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in environ.Env.DB_SCHEMES:
        raise _fail(name, f"has an unsupported scheme {scheme!r} (use postgres:// or sqlite://)")
    try:
        config = env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise _fail(name, f"is not a valid database URL ({exc.__class__.__name__})") from None
    if not config.get("ENGINE"):
        raise _fail(name, "has an unsupported scheme")
    return config


def env_cache(name: str, default: str | _Missing = MISSING) -> dict:
    url = env_str(name, default)
    try:
        return env.cache_url_config(url)
    except Exception as exc:
        raise _fail(name, f"is not a valid cache URL ({exc.__class__.__name__})") from None


def env_rate(name: str, default: str) -> str:
    """A "<count>/<second|minute|hour|day>" setting, checked by the one parser (``Rate.parse``)
    that every limiter reads it with."""
    from common.ratelimit import Rate  # common.ratelimit imports Django's cache: not at startup

    value = env_str(name, default)
    try:
        Rate.parse(value)
    except ValueError:
        raise _fail(
            name,
            f"must look like '300/minute' (a count, then second, minute, hour or day), "
            f"got {value!r}",
        ) from None
    return value
