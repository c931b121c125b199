"""A polite HTTP fetcher: timeouts, bounded retries with backoff, conditional GETs.

``ETag``/``Last-Modified`` validators are kept in a :class:`ValidatorCache` (the store provides
one backed by the database) so a feed or page that has not changed costs a 304 and no parsing.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import aiohttp
import aiohttp.abc

from bot.domain import Validators
from bot.ingest.errors import FetchError

USER_AGENT = "signalbot/0.1 (+https://github.com/signalbot; news-to-chat bot; polite fetcher)"
MAX_BODY_BYTES = 8 * 1024 * 1024
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ValidatorCache(Protocol):
    async def validators(self, url: str) -> Validators | None: ...

    async def remember(self, url: str, validators: Validators) -> None: ...


class MemoryValidatorCache:
    """Validators kept for the life of the process (tests, one-off CLI runs without a store)."""

    def __init__(self) -> None:
        self._data: dict[str, Validators] = {}

    async def validators(self, url: str) -> Validators | None:
        return self._data.get(url)

    async def remember(self, url: str, validators: Validators) -> None:
        self._data[url] = validators


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body: bytes
    content_type: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        return default
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Fetcher:
    """GETs URLs with a shared aiohttp session. Use as an async context manager."""

    def __init__(
        self,
        *,
        cache: ValidatorCache | None = None,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        user_agent: str = USER_AGENT,
        resolver: aiohttp.abc.AbstractResolver | None = None,
    ) -> None:
        self.cache = cache
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.user_agent = user_agent
        self._resolver = resolver  # tests point real host names at loopback servers
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(limit=8, limit_per_host=4, resolver=self._resolver)
        self._session = aiohttp.ClientSession(
            timeout=self.timeout, headers={"User-Agent": self.user_agent}, connector=connector
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str, *, conditional: bool = True) -> Fetched:
        """Fetch ``url``; a 304 comes back as ``not_modified``. Raises :class:`FetchError`."""
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        headers: dict[str, str] = {}
        if conditional and self.cache is not None:
            known = await self.cache.validators(url)
            if known is not None:
                if known.etag:
                    headers["If-None-Match"] = known.etag
                if known.last_modified:
                    headers["If-Modified-Since"] = known.last_modified
        last_problem = "no attempt made"
        for attempt in range(self.retries + 1):
            delay = self.backoff * (2**attempt) * (0.5 + random.random())
            try:
                async with self._session.get(url, headers=headers) as response:
                    if response.status in _RETRY_STATUSES:
                        last_problem = f"HTTP {response.status}"
                        delay = _retry_after(response.headers.get("Retry-After"), delay)
                        if delay > self.max_retry_after:
                            break
                    elif response.status == 304:
                        return Fetched(url, 304, b"", "")
                    elif response.status >= 400:
                        raise FetchError(f"HTTP {response.status} {response.reason or ''}".strip())
                    else:
                        body = await response.content.read(MAX_BODY_BYTES + 1)
                        if len(body) > MAX_BODY_BYTES:
                            raise FetchError(f"response larger than {MAX_BODY_BYTES} bytes")
                        if self.cache is not None:
                            await self.cache.remember(
                                url,
                                Validators(
                                    etag=response.headers.get("ETag"),
                                    last_modified=response.headers.get("Last-Modified"),
                                ),
                            )
                        return Fetched(
                            str(response.url),
                            response.status,
                            body,
                            response.headers.get("Content-Type", ""),
                        )
            except aiohttp.InvalidURL as error:
                raise FetchError(f"not a valid URL ({error})") from None
            except TimeoutError:
                last_problem = f"timed out after {self.timeout.total:g} s"
            except aiohttp.ClientError as error:
                last_problem = f"unreachable ({error.__class__.__name__}: {error})"
            if attempt < self.retries:
                await asyncio.sleep(delay)
        raise FetchError(f"{last_problem} (after {self.retries + 1} attempts)")
