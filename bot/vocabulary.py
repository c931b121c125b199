"""The names pages print, normalised: outlets ("the Financial Times") and verticals ("net zero").

Vocabulary of the core, below the domain: the domain matches filters with it, ingest reads
pages with it, commands check what users type against it.
"""

from __future__ import annotations

import re

# Outlets whose name includes "The"; for every other outlet a leading "the" is dropped, so
# "the Financial Times" and "The Financial Times" both read "Financial Times".
_KEEPS_THE = frozenset(
    {
        "economist",
        "guardian",
        "spectator",
        "atlantic",
        "hindu",
        "new yorker",
        "telegraph",
        "independent",
        "times",
        "conversation",
        "diplomat",
        "hill",
        "intercept",
        "information",
    }
)
_SPACES = re.compile(r"\s+")
_EDGES = re.compile(r"^[\s.;:,]+|[\s.;:,]+$")  # spaces and stray punctuation at either end
_LEADING_THE = re.compile(r"^the\s+", re.I)
_POSSESSIVE = re.compile(r"^(.*?)([’']s\b.*)$")


def outlet_label(name: str) -> str:
    """A display label for an outlet or person: 'the Financial Times.' -> 'Financial Times'."""
    text = _EDGES.sub("", _SPACES.sub(" ", name.replace("\u00a0", " ")))
    match = _LEADING_THE.match(text)
    if not match:
        return text
    rest = text[match.end() :]
    owner = _POSSESSIVE.match(rest)
    brand = owner.group(1) if owner else rest
    if brand.lower() in _KEEPS_THE:
        return "The " + rest
    return rest


def outlet_key(name: str) -> str:
    """A matching key for an outlet: lower case, no leading 'the', letters and digits only."""
    label = _LEADING_THE.sub("", outlet_label(name))
    return re.sub(r"[^0-9a-z]+", "", label.lower())


_LIST_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


def split_outlets(text: str) -> list[str]:
    """Split 'X, Y, and Z' / 'X and Y' / 'X , Y' into labels, in order, without repeats."""
    labels: list[str] = []
    for part in _LIST_SPLIT.split(text.replace("\u00a0", " ").strip().rstrip(".")):
        label = outlet_label(part)
        if label and label not in labels:
            labels.append(label)
    return labels


def merge_outlets(groups: list[list[str]]) -> list[str]:
    """The distinct labels of several source lists, in first-seen order."""
    seen: dict[str, str] = {}
    for group in groups:
        for label in group:
            seen.setdefault(outlet_key(label), label)
    return list(seen.values())


VERTICALS: dict[str, str] = {
    "politics": "politics",
    "security": "security",
    "business": "business",
    "tech": "tech",
    "technology": "tech",
    "africa": "africa",
    "net zero": "net-zero",
    "netzero": "net-zero",
    "net-zero": "net-zero",
    "climate": "net-zero",
    "gulf": "gulf",
    "media": "media",
    "energy": "energy",
    "economy": "economy",
    "health": "health",
    "sports": "sports",
    "culture": "culture",
    "china": "china",
}


def vertical_key(name: str) -> str:
    """'net zero' -> 'net-zero', 'Technology' -> 'tech'; unknown names are slugged as they are."""
    text = _SPACES.sub(" ", name.strip().lower())
    return VERTICALS.get(text) or re.sub(r"[^0-9a-z]+", "-", text).strip("-")
