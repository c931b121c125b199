"""The core's vocabulary: stories, insights and where they point.

A :class:`Story` is what every ingester produces and every renderer consumes. Its JSON form
(``Story.model_dump(mode="json")``) is what ``signalbot parse`` prints and what JSON story files
hold, so the field names here are the public schema.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

StoryKind = Literal["signals", "article"]

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
        from bot import regions

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

    @property
    def when(self) -> datetime | None:
        """The time the story last changed: its update time, else its publication time."""
        return self.updated_at or self.published_at


def canonical_url(url: str) -> str:
    """The URL with fragment and tracking parameters dropped; Semafor links on https://www."""
    parts = urlsplit(url)
    host = parts.netloc.lower()
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAMS.match(k)])
    scheme = parts.scheme.lower()
    if host.removeprefix("www.") == "semafor.com":
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
