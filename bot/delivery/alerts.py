"""Deliveries outside the due-scan: a digest sent now (``/signals send-now``), and instant
alerts of new stories to the channels that asked for them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from bot import regions
from bot.clock import Clock
from bot.delivery.attempts import Attempts, Refusals
from bot.delivery.inflight import InFlight
from bot.delivery.outcomes import EMPTY, Outcomes, Pausing, PushOutcome, scope_reason
from bot.delivery.plan import Group, Made, Push, PushLedger, message_for
from bot.delivery.sender import Outgoing
from bot.digests import candidates
from bot.domain import Story, Subscription
from bot.render.model import card_from_story
from bot.store.claims import PushGroup
from bot.store.ledger import Ask, Sent
from bot.store.rows import new_token
from bot.store.stories import StoryStore
from bot.store.subscriptions import SubscriptionStore


class Alerts:
    """Send-now and instant alerts: each message reserved in the ledger under a token of the
    call's own, sent within the engine's bound on sends under way, and counted."""

    def __init__(
        self,
        *,
        stories: StoryStore,
        subscriptions: SubscriptionStore,
        ledger: PushLedger,
        attempts: Attempts,
        outcomes: Outcomes,
        in_flight: InFlight,
        clock: Clock,
    ) -> None:
        self.stories = stories
        self.subscriptions = subscriptions
        self.ledger = ledger
        self.attempts = attempts
        self.outcomes = outcomes
        self.in_flight = in_flight
        self.clock = clock

    async def push_now(self, subs: Sequence[Subscription]) -> list[PushOutcome]:
        """Deliver each subscription's digest now (the scheduled push then carries only what
        is newer). A channel or workspace refused for one is not tried again for the next."""
        refusals, pausing = Refusals(), Pausing()
        outcomes = [await self._push_now(sub, refusals, pausing) for sub in subs]
        self.outcomes.notify(pausing)  # one notice a channel, for all it had paused
        return outcomes

    async def _push_now(
        self, sub: Subscription, refusals: Refusals, pausing: Pausing
    ) -> PushOutcome:
        if sub.id is None:
            raise ValueError("send-now needs a stored subscription")
        now = self.clock.now()
        # A token of its own: a scheduled push of the same subscription may be under way.
        token = new_token()
        group = Group(
            PushGroup(sub, [(sub.id, sub.channel)]), await candidates(self.stories, sub, now)
        )
        push = Push(group, sub.id, sub.channel)
        await self.ledger.reserve([push], token)
        message = message_for(push, Made(), now)
        result = await self.attempts.deliver(message, refusals) if message is not None else EMPTY
        await self.ledger.settle(token, [push], [result], [message])
        status, detail, _ = result
        if status == "sent":
            await self.subscriptions.record_success(
                sub.id, result=f"sent {len(push.stories)} stories (send-now)", pushed_at=now
            )
        elif status == "failed" and (refused := refusals.workspace_refusal(sub.channel)):
            await self.outcomes.pause_refused(refusals, self.clock.now())
            detail = f"the digest could not be delivered, and was paused: {scope_reason(refused)}"
            return PushOutcome(sub.id, sub.channel, sub.region, None, "paused", 0, detail)
        elif status == "failed":
            await self.outcomes.count_failure(sub, f"delivery failed: {detail}", detail, pausing)
        if status in ("failed", "retrying"):
            detail = f"the digest could not be delivered ({detail})"
            return PushOutcome(sub.id, sub.channel, sub.region, None, status, 0, detail)
        return PushOutcome(sub.id, sub.channel, sub.region, None, status, len(push.stories))

    async def deliver_instant(self, stories: Iterable[Story]) -> int:
        """Send each new story to the instant subscribers it matches; how many went out."""
        stories = list(stories)
        if not stories or self.in_flight.closing:
            return 0
        subs = [s for s in await self.subscriptions.instant_subscribers()
                if s.channel.platform in self.attempts.senders]  # fmt: skip
        pairs = [
            (sub, story)
            for sub in subs
            for story in stories
            if story.region in regions.leaves(sub.region) and sub.filters.matches(story)
        ]
        if not pairs:
            return 0
        # A token of this call's own: rows another call holds are never mistaken for ours.
        # Each alert is a message of its own, numbered by its place in ``pairs``.
        token = new_token()
        ledger = self.ledger.ledger
        got = await ledger.reserve(
            [Ask(n, sub.channel, sub.id, [story.id]) for n, (sub, story) in enumerate(pairs)],
            token=token, at=self.clock.now(),
        )  # fmt: skip
        todo: list[int] = []
        released: list[tuple[int, list[str]]] = []
        for n, (_, story) in enumerate(pairs):
            if got.holds(n, story.id):
                todo.append(n)
            else:  # the channel has it: this alert's send holds nothing
                released.append((n, []))

        wanted = {pairs[n][1].id for n in todo}
        cards = {s.id: card_from_story(s) for s in stories if s.id in wanted}  # one per story
        refusals = Refusals()
        results = await asyncio.gather(
            *(
                self.attempts.deliver(
                    Outgoing(pairs[n][0].channel, cards[pairs[n][1].id]), refusals
                )
                for n in todo
            )
        )
        sent: list[Sent] = []
        failures: dict[int | None, tuple[Subscription, str]] = {}  # one a subscription
        reached: dict[int | None, Subscription] = {}
        for n, (status, detail, message_id) in zip(todo, results, strict=True):
            sub = pairs[n][0]
            if status == "sent":
                sent.append((n, message_id, cards[pairs[n][1].id].shown))
                reached[sub.id] = sub
            else:
                released.append((n, [pairs[n][1].id]))
                if status == "failed":
                    failures.setdefault(sub.id, (sub, detail))
        if sent or released:
            await ledger.settle(token=token, sent=sent, released=released, at=self.clock.now())
        # A workspace refused for good is paused at once, all its subscriptions; a
        # subscription whose alerts failed otherwise counts one failure this round, as a
        # digest's push does (the third in a row pauses, with one notice a channel); an
        # alert that went out clears the count.
        if refusals.workspaces:
            await self.outcomes.pause_refused(refusals, self.clock.now())
        pausing = Pausing()
        for sub, detail in failures.values():
            if refusals.workspace_refusal(sub.channel) is None:
                await self.outcomes.count_failure(sub, f"alert failed: {detail}", detail, pausing)
        self.outcomes.notify(pausing)
        for sub_id, sub in reached.items():
            if sub_id is not None and sub_id not in failures and sub.failures:
                await self.subscriptions.record_success(sub_id, result="alert sent", pushed_at=None)
        return len(sent)
