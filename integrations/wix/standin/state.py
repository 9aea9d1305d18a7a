"""What the stand-in holds: its switchable faults, issued tokens, instances, contacts and
request counters (``StandinState``, shared by every request thread under its lock)."""

import threading
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

TOKEN_TTL_SECONDS = 14400


@dataclass
class Faults:
    """Switchable faults, for API paths starting with one of ``paths`` (all when empty)."""

    latency_ms: int = 0  # added before answering
    hang: bool = False  # accept, read, never answer (until switched off or hang_seconds)
    hang_seconds: float = 30.0
    error_status: int = 503
    error_rate: float = 0.0  # share of requests answered with error_status
    error_burst: int = 0  # the next N requests answered with error_status
    error_after_processing: bool = False  # do the work, then answer the error (lost answer)
    storm_429: int = 0  # the next N requests answered 429
    retry_after: int = 1
    drop_rate: float = 0.0  # share of requests whose connection is closed without an answer
    drop_next: int = 0
    drop_after_next: int = 0  # the next N requests do the work, then lose the answer (dropped)
    outage: bool = False  # every API request answered 503
    paths: list[str] = field(default_factory=list)  # prefixes; a trailing "$" means exact
    rate_limit_per_minute: int = 200
    token_ttl: int = TOKEN_TTL_SECONDS


def _matches(path: str, pattern: str) -> bool:
    """``/contacts`` matches every path under it; ``/contacts/v4/contacts$`` only that one."""
    if pattern.endswith("$"):
        return path == pattern[:-1]
    return path.startswith(pattern)


class StandinState:
    def __init__(self, *, app_id: str, app_secret: str) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.faults = Faults()
            self.counts: Counter = Counter()
            self.tokens: dict[str, tuple[str, float]] = {}
            self.instances: dict[str, dict] = {}
            self.contacts: dict[str, dict[str, dict]] = defaultdict(dict)
            self.hits: dict[str, deque] = defaultdict(deque)

    def instance(self, instance_id: str) -> dict:
        data = self.instances.get(instance_id)
        if data is None:
            short = instance_id[:8]
            data = {
                "instance_id": instance_id,
                "site_name": f"Site {short}",
                "site_url": f"https://site-{short}.example.com",
                "owner_email": f"owner-{short}@example.com",
                # The site's public contact address (site properties), which any editor of
                # the site can set: not the account owner's unless the owner made it so.
                "contact_email": f"hello-{short}@example.com",
                "locale": "en",
                "country": "US",
                "currency": "USD",
                "timezone": "UTC",
                "is_free": True,
                "vendor_product_id": "",
            }
            self.instances[instance_id] = data
        return data
