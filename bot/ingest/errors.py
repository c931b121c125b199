"""Why an input could not become a story. Each error's message names the reason in one line."""

from __future__ import annotations


class IngestError(Exception):
    """An input that is not (or no longer) a story we can use; ``str(err)`` is the reason."""


class NotAStory(IngestError):
    """The input is readable but is not a story page."""


class NewsletterPage(NotAStory):
    """A newsletter: a digest of many stories, refused as a single story."""


class FetchError(IngestError):
    """A URL could not be fetched (unreachable, timed out, HTTP error)."""


class StoryFileError(IngestError):
    """A JSON story file that does not match the story schema."""
