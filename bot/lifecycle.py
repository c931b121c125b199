"""What the bot forgets or holds when a platform says a channel or a workspace is gone: the
app uninstalled, the bot removed from a channel, a channel deleted, access or a token lost.

Adapters call this from the platform's events; the delivery engine pauses through the same
store methods when a send says a workspace can no longer take messages.
"""

from __future__ import annotations

from itertools import groupby

from bot.clock import Clock
from bot.domain import ChannelRef
from bot.schedule import next_push_for
from bot.store.ledger import DeliveryLedger
from bot.store.subscriptions import SubscriptionStore

# Why the bot paused a whole workspace at once (the start of the pause reason).
UNINSTALLED = "signalbot is no longer installed in this workspace"
PAUSED_BY = "paused by "  # how the reason of a member's pause begins (then who, and when)
TOKEN_REFUSED = "the bot's access to this workspace was revoked or refused"


def scope_reason(scope: str, detail: str) -> str:
    """The pause reason for a failure of a workspace's ``scope`` ("workspace" or "token")."""
    start = UNINSTALLED if scope == "workspace" else TOKEN_REFUSED
    return f"{start}: {detail}"


class Lifecycle:
    def __init__(
        self, subscriptions: SubscriptionStore, ledger: DeliveryLedger, clock: Clock
    ) -> None:
        self.subscriptions = subscriptions
        self.ledger = ledger
        self.clock = clock

    async def forget_channel(self, channel: ChannelRef) -> int:
        """Remove the channel's subscriptions and what the ledger holds of it (a deleted
        channel, the bot removed); how many subscriptions went."""
        removed = await self.subscriptions.delete(channel, None)
        await self.ledger.forget_channel(channel)
        return removed

    async def forget_workspace(self, platform: str, workspace: str) -> int:
        """The same for every channel of a workspace (the app uninstalled)."""
        removed = await self.subscriptions.delete_workspace(platform, workspace)
        await self.ledger.forget_workspace(platform, workspace)
        return removed

    async def pause_channel(self, channel: ChannelRef, reason: str) -> int:
        """Pause every subscription of the channel, saying why; how many were newly paused."""
        return await self.subscriptions.pause_channels(
            [channel], reason=reason, now=self.clock.now()
        )

    async def pause_workspace(self, platform: str, workspace: str, reason: str) -> int:
        """Pause every subscription of the workspace, saying why; how many were newly paused."""
        return await self.subscriptions.pause_workspace(
            platform, workspace, reason=reason, now=self.clock.now()
        )

    async def resume_workspace(self, platform: str, workspace: str) -> int:
        """Resume what the bot paused because the workspace had uninstalled it or refused its
        token (the app is installed again); a pause people made stays. How many resumed."""
        now = self.clock.now()
        ours = [
            s for s in await self.subscriptions.for_workspace(platform, workspace)
            if s.paused and (s.paused_reason or "").startswith((UNINSTALLED, TOKEN_REFUSED))
        ]  # fmt: skip
        for channel, subs in groupby(ours, key=lambda s: s.channel):
            paused = list(subs)
            following = {
                s.id: next_push_for(s, now)
                for s in paused
                if s.id is not None and s.mode == "digest"
            }
            await self.subscriptions.set_paused(
                channel, [s.region for s in paused], paused=False, reason=None, now=now,
                next_push=following or None,
            )  # fmt: skip
        return len(ours)
