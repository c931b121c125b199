"""What the bot forgets or holds when a platform says a channel or a workspace is gone: the
app uninstalled, the bot removed from a channel, a channel deleted, access or a token lost.

Adapters call this from the platform's events; the delivery engine pauses through the same
store methods when a send says the channel or the workspace can no longer take messages.
"""

from __future__ import annotations

from bot.clock import Clock
from bot.domain import ChannelRef
from bot.store.ledger import DeliveryLedger
from bot.store.subscriptions import SubscriptionStore


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
