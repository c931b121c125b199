"""The core's vocabulary: stories, insights and where they point.

A :class:`Story` is what every ingester produces and every renderer consumes. Its JSON form
(``Story.model_dump(mode="json")``) is what ``signalbot parse`` prints and what JSON story files
hold, so the field names here are the public schema.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bot import regions
from bot.vocabulary import outlet_key

StoryKind = Literal["signals", "article"]

# The one slash command every platform offers; everything a user types follows it.
COMMAND_NAME = "signals"
PREFIX = f"/{COMMAND_NAME}"

ID_LENGTH = 8
_ID_RE = re.compile(r"^[a-z2-7]{8}$")
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|src)$", re.I)


class Insight(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = ""
    sources: list[str] = Field(default_factory=list)
    body: str = ""


class Image(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    caption: str | None = None
    credit: str | None = None


class Story(BaseModel):
    """One news story. ``id`` is derived from ``url`` (or headline + date) when not given."""

    model_config = ConfigDict(extra="forbid")
    # Its card (``bot.render.model.card_from_story``), made once: a story read back from the
    # store is shared by every lookup and push that shows it.
    _card: Any = PrivateAttr(default=None)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Story:
        """A copy (changed by ``update``) that makes its own card."""
        copied = super().model_copy(update=update, deep=deep)
        copied._card = None
        return copied

    id: str = ""
    url: str | None = None
    kind: StoryKind = "article"
    title: str = Field(min_length=1)
    published_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    region: str | None = None
    verticals: list[str] = Field(default_factory=list)
    insights_from: list[str] = Field(default_factory=list)
    news: list[str] = Field(default_factory=list)
    sections: dict[str, list[str]] = Field(default_factory=dict)
    insights: list[Insight] = Field(default_factory=list)
    image: Image | None = None

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        region = regions.find(value)
        if region is None or region.is_group:
            raise ValueError(
                f"unknown region {value!r}; use one of "
                + ", ".join(r.key for r in regions.leaf_regions())
            )
        return region.key

    @field_validator("url")
    @classmethod
    def _clean_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if any(ord(c) < 32 or ord(c) == 127 for c in value.strip()):  # would reach chat raw
            raise ValueError(f"control characters in URL {value!r}")
        cleaned = canonical_url(value.strip())
        if not cleaned.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return cleaned

    @model_validator(mode="after")
    def _derive_id(self) -> Story:
        if not self.id:
            self.id = (
                story_id_for_url(self.url)
                if self.url
                else story_id_for_text(self.title, self.published_at)
            )
        elif not _ID_RE.match(self.id):
            raise ValueError(f"id must be {ID_LENGTH} characters a-z and 2-7, got {self.id!r}")
        return self


def is_semafor_host(url: str) -> bool:
    """Whether a link points at Semafor's own site (with or without www)."""
    return (urlsplit(url).hostname or "").removeprefix("www.") == "semafor.com"


def canonical_url(url: str) -> str:
    """The URL with fragment and tracking parameters dropped; Semafor links on https://www."""
    parts = urlsplit(url)
    host = parts.netloc.lower()
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAMS.match(k)])
    scheme = parts.scheme.lower()
    if is_semafor_host(url):
        scheme, host = "https", "www.semafor.com"
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, query, ""))


def _short_hash(text: str) -> str:
    digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:ID_LENGTH]


def story_id_for_url(url: str) -> str:
    """A short id that is the same for every spelling of one story's URL.

    Scheme, ``www.``, host case, a trailing slash, the query string and the fragment do not
    change it.
    """
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return _short_hash(f"{host}{path}")


def story_id_for_text(title: str, published_at: datetime | None) -> str:
    """The id of a story that has no URL: its headline and publication date."""
    day = published_at.date().isoformat() if published_at else ""
    return _short_hash(f"{' '.join(title.lower().split())}|{day}")


def looks_like_story_id(text: str) -> bool:
    return bool(_ID_RE.match(text))


@dataclass(frozen=True)
class ChannelRef:
    """Where messages go: a channel of a workspace (Slack) or guild (Discord), or the console."""

    platform: str
    workspace: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}/{self.channel}"


@dataclass(frozen=True)
class Validators:
    """What a server said about the version of a page it sent (``ETag``, ``Last-Modified``),
    to ask next time whether it changed."""

    etag: str | None = None
    last_modified: str | None = None


DeliveryMode = Literal["digest", "instant"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Filters:
    """What narrows a subscription: verticals, outlets, words that must or must not appear."""

    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.topics or self.sources or self.keywords or self.exclude)

    def matches(self, story: Story) -> bool:
        if self.topics and not set(self.topics) & set(story.verticals):
            return False
        if self.sources:
            outlets = {outlet_key(s) for s in story.insights_from}
            outlets |= {outlet_key(s) for i in story.insights for s in i.sources}
            if not {outlet_key(s) for s in self.sources} & outlets:
                return False
        if self.keywords or self.exclude:
            words = _words_of(story)
            if self.keywords and not any(_has_phrase(words, k) for k in self.keywords):
                return False
            if any(_has_phrase(words, k) for k in self.exclude):
                return False
        return True


def _words_of(story: Story) -> str:
    parts = [story.title, *story.news, *(i.title for i in story.insights)]
    parts.extend(i.body for i in story.insights)
    return " " + " ".join(re.findall(r"\w+", " ".join(parts).lower())) + " "


def _has_phrase(words: str, phrase: str) -> bool:
    wanted = " ".join(re.findall(r"\w+", phrase.lower()))
    return bool(wanted) and f" {wanted} " in words


@dataclass(frozen=True)
class Subscription:
    """A channel's subscription to one region (a leaf region or a group)."""

    channel: ChannelRef
    region: str
    push_time: time
    timezone: str
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # Monday is 0
    mode: DeliveryMode = "digest"
    filters: Filters = Filters()
    paused: bool = False
    paused_reason: str | None = None
    id: int | None = None
    next_push_at: datetime | None = None
    last_push_at: datetime | None = None
    last_result: str | None = None
    failures: int = 0
    created_at: datetime | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def days_label(self) -> str:
        if self.days == (0, 1, 2, 3, 4, 5, 6):
            return "daily"
        if self.days == (0, 1, 2, 3, 4):
            return "weekdays"
        if self.days == (5, 6):
            return "weekends"
        return ",".join(WEEKDAYS[d] for d in self.days)
