"""What the engine asks of a platform: a :class:`Sender` that takes an :class:`Outgoing`
message, within its :class:`RateLimits`, and raises :class:`DeliveryError` when it fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.domain import ChannelRef
from bot.render.model import PushContent


@dataclass(frozen=True)
class Outgoing:
    """One message for one channel: what it carries is a digest, a single story (a card) or a
    notice from the bot, each a type :mod:`bot.render` renders for every format.

    With ``replaces`` (the platform's id of a message the bot sent there) it is an edit:
    that message is changed in place to show this content, and nothing new is posted."""

    channel: ChannelRef
    content: PushContent
    replaces: str | None = None


# What a failed send says cannot take messages: this one message (the default), the channel
# (gone, the bot removed from it, access lost), the workspace (the app uninstalled), the
# bot's token for the workspace (revoked or refused), or the whole platform (the bot's one
# token for every workspace refused: the operator must fix a setting; nothing is paused).
FailureScope = Literal["message", "channel", "workspace", "token", "platform"]


class DeliveryError(Exception):
    """A send that did not go through.

    ``permanent``: sending it again will not help. ``scope``: what the failure says cannot
    take messages (see :data:`FailureScope`); a scope wider than the message is permanent.
    ``retry_after``: the platform asked us to wait (HTTP 429); ``global_limit`` when the
    wait applies to every channel. ``message_gone``: the message an edit replaces is gone.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        scope: FailureScope = "message",
        retry_after: float | None = None,
        global_limit: bool = False,
        message_gone: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.scope: FailureScope = scope
        self.permanent = permanent or scope != "message" or message_gone
        self.retry_after = retry_after
        self.global_limit = global_limit
        # An edit found its message deleted (or no longer the bot's to edit): it is never
        # edited again, and nothing else is the worse for it.
        self.message_gone = message_gone


@dataclass(frozen=True)
class RateLimits:
    """A platform's limits: requests per second for the whole bot, messages per window per
    channel, and requests per second per workspace (None or 0: no limit of that kind)."""

    per_second: float | None = None
    per_channel: tuple[int, float] | None = None
    per_workspace: float | None = None


class Sender(Protocol):
    """Sends messages to one platform; raises :class:`DeliveryError` when a send fails."""

    platform: str
    limits: RateLimits

    async def send(self, message: Outgoing) -> str | None:
        """Send and return the platform's message id (if it has one); with
        ``message.replaces``, edit that message instead (raising a ``message_gone`` error
        if it was deleted) and return its id."""
        ...
