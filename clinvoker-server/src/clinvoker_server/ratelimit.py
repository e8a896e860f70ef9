"""Rate limiting: token buckets per API key, else per client IP.

:class:`RateLimiter` is the interface (a shared Redis limiter for several server instances is a
plugin away); :class:`TokenBucketLimiter` keeps buckets in memory, at most ``max_keys`` of them,
evicting the least recently used and dropping idle ones.

The client IP is the TCP peer. ``X-Forwarded-For`` is believed only when the peer is one of
``server.trusted_proxies`` (IPs or CIDRs), and then the right-most address that is not itself a
trusted proxy is the client — so a client cannot choose its own rate-limit key.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Protocol

__all__ = ["RateLimiter", "TokenBucketLimiter", "TrustedProxies"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RateLimiter(Protocol):
    """Decides whether one more request from ``key`` may pass now."""

    def acquire(self, key: str, *, rate: float | None = None, burst: int | None = None) -> float:
        """0.0 if the request may pass, else the seconds until it would.

        ``rate``/``burst`` override the limiter's defaults for this key (per-key policies).
        """
        ...


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class TokenBucketLimiter:
    """In-memory token buckets: ``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        idle_secs: float = 180.0,
    ) -> None:
        self.rate = rate
        self.burst = burst if burst > 0 else max(1, math.ceil(2 * rate))
        self.max_keys = max_keys
        self.idle_secs = idle_secs if idle_secs > 0 else 180.0
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._next_sweep = 0.0

    def acquire(self, key: str, *, rate: float | None = None, burst: int | None = None) -> float:
        """Take a token from ``key``'s bucket (see :meth:`RateLimiter.acquire`)."""
        rate = rate if rate else self.rate
        cap = float(burst if burst else self.burst)
        if rate <= 0:
            return 0.0
        now = time.monotonic()
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(cap, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(cap, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.idle_secs
        cutoff = now - self.idle_secs
        for key in [k for k, b in self._buckets.items() if b.stamp < cutoff]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[IPNetwork] = []
        for entry in entries:
            entry = entry.strip()
            if entry:
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_ip(self, peer: str, headers: Mapping[str, str]) -> str:
        """The client address for rate limiting and logs."""
        if not self.networks or peer not in self:
            return peer
        forwarded = headers.get("x-forwarded-for", "")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not _valid_ip(hop):
                break
            if hop not in self:
                return hop
        real = headers.get("x-real-ip", "").strip()
        return real if _valid_ip(real) else peer


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
