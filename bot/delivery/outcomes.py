"""What a push's result means for its subscription: its next push, its failure count, a
pause (with a notice in the channel where it still takes messages), and what ``status`` and
send-now say about it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from bot import lifecycle, regions
from bot.delivery.attempts import Refusals
from bot.delivery.inflight import InFlight
from bot.delivery.plan import Push
from bot.delivery.sender import DeliveryError, Outgoing, Sender
from bot.domain import PREFIX, ChannelRef, Subscription
from bot.render.model import Notice, join_names
from bot.schedule import local_day, next_push
from bot.store.claims import PushRecord
from bot.store.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)

PAUSE_AFTER_FAILURES = 3
PAUSED_AFTER = "paused after "  # how the reason of a pause for failures begins
RETRY_LATER = timedelta(minutes=10)

# "gone": the message an edit replaces was deleted (edits only).
Status = Literal["sent", "empty", "skipped", "failed", "retrying", "paused", "gone"]
Result = tuple[Status, str, str | None]  # status, detail, the platform's message id
EMPTY: Result = ("empty", "", None)


class PushOutcome(NamedTuple):
    """How one push went, for the log, ``status`` and send-now."""

    subscription_id: int | None
    channel: ChannelRef
    region: str
    slot: datetime | None  # the push time it was due at (None for a send-now)
    status: Status
    stories: int = 0
    detail: str = ""

    @property
    def summary(self) -> str:
        name = regions.get(self.region).name
        if self.status == "sent":
            return (
                f"Sent the {name} digest: {self.stories} stor{'y' if self.stories == 1 else 'ies'}."
            )
        if self.status == "empty":
            return (
                f"Nothing new for {name} since the last push. "
                f"{PREFIX} latest {self.region} shows the newest stories."
            )
        return f"{name}: {self.detail}"


def pause_reason(detail: str) -> str:
    return f"{PAUSED_AFTER}{PAUSE_AFTER_FAILURES} failed deliveries in a row: {detail}"


def scope_reason(error: DeliveryError) -> str:
    """Why every subscription of a workspace was paused at once."""
    return lifecycle.scope_reason(error.scope, error.reason)


def following(sub: Subscription, now: datetime) -> datetime:
    """The push after the one due at the subscription's slot: never on or before the local
    day that push belonged to."""
    slot = sub.next_push_at or now
    day = local_day(slot, sub.timezone)
    if slot.astimezone(sub.zone).time() < sub.push_time:
        # a retry that ran past local midnight (retries never pass the next push): its push
        # was the previous day's
        day -= timedelta(days=1)
    return next_push(sub.push_time, sub.timezone, sub.days, max(now, slot), last_local_day=day)


class Outcomes:
    """Stores what pushes and alerts came to, and tells a channel when its subscription was
    paused (in the background: :class:`InFlight` lets the notices finish)."""

    def __init__(
        self,
        subscriptions: SubscriptionStore,
        senders: Mapping[str, Sender],
        in_flight: InFlight,
    ) -> None:
        self.subscriptions = subscriptions
        self.senders = senders
        self.in_flight = in_flight

    def conclude(
        self,
        pushes: list[Push],
        results: list[Result],
        now: datetime,
        records: list[PushRecord],
        outcomes: list[PushOutcome],
        refusals: Refusals,
        pausing: Pausing,
    ) -> None:
        """What each claimed push's result means for its subscription: one record per group
        of pushes that ended alike (added to ``records``), one outcome per push.

        A push that failed where ``refusals`` holds its workspace gets no record:
        :meth:`pause_refused` pauses it (before the records are written, dropping its claim).
        One whose channel was refused counts a failure, as any permanent failure does; the
        subscriptions paused go to ``pausing`` (the caller sends its notices once its round
        is over: one a channel).
        """
        alike: dict[tuple[int, Status, str, int], list[Push]] = {}
        for push, (status, detail, _) in zip(pushes, results, strict=True):
            alike.setdefault((id(push.group), status, detail, len(push.stories)), []).append(push)
        for (_, status, detail, count), group in alike.items():
            like = group[0].group.like
            ids = [push.sub_id for push in group]
            after = following(like, now)
            if status == "empty":
                result = f"nothing new at {now:%Y-%m-%d %H:%M} UTC"
                records.append(PushRecord(ids, after, result, failures=0))
            elif status == "sent":
                result = f"sent {count} stories"
                records.append(PushRecord(ids, after, result, 0, pushed_at=now))
            elif status == "retrying":
                retry = min(now + RETRY_LATER, after)
                result = f"delivery failed ({detail}); retrying at {retry:%H:%M} UTC"
                records.append(PushRecord(ids, retry, result, failures=like.failures))
            else:  # failed permanently
                if refusals.workspaces:
                    group = self._refused(group, like.region, like.next_push_at, refusals,
                                          outcomes)  # fmt: skip
                    if not group:
                        continue
                    ids = [push.sub_id for push in group]
                failures = like.failures + 1
                reason = pause_reason(detail) if failures >= PAUSE_AFTER_FAILURES else None
                if reason:
                    status = "paused"
                    for push in group:
                        pausing.add(push.channel, like.region, reason)
                records.append(
                    PushRecord(
                        ids, after, f"delivery failed: {detail}", failures=failures,
                        pause_reason=reason,
                    )
                )  # fmt: skip
            outcomes.extend(
                PushOutcome(push.sub_id, push.channel, like.region, like.next_push_at, status,
                            count, detail)
                for push in group
            )  # fmt: skip

    @staticmethod
    def _refused(
        pushes: list[Push],
        region: str,
        slot: datetime | None,
        refusals: Refusals,
        outcomes: list[PushOutcome],
    ) -> list[Push]:
        """The outcomes of the pushes whose workspace was refused; the others."""
        others = []
        for push in pushes:
            error = refusals.workspace_refusal(push.channel)
            if error is None:
                others.append(push)
            else:
                outcomes.append(
                    PushOutcome(push.sub_id, push.channel, region, slot, "paused",
                                detail=scope_reason(error))
                )  # fmt: skip
        return others

    async def pause_refused(self, refusals: Refusals, now: datetime) -> None:
        """Pause every subscription of each workspace refused (and not yet paused for it),
        one write per workspace. No notice: it could not arrive."""
        # a copy: the scan's senders note more refusals while these writes wait
        for key, error in list(refusals.workspaces.items()):
            if key not in refusals.paused:
                await self.subscriptions.pause_workspace(*key, reason=scope_reason(error), now=now)
                refusals.paused.add(key)

    async def count_failure(
        self, sub: Subscription, result: str, detail: str, pausing: Pausing
    ) -> None:
        """A failure outside a claimed push; pauses at the third in a row (the notice is
        added to ``pausing``)."""
        if sub.id is None:
            return
        reason = pause_reason(detail)
        paused_now = await self.subscriptions.record_failure(
            sub.id, result=result, pause_after=PAUSE_AFTER_FAILURES, pause_reason=reason
        )
        if paused_now:
            pausing.add(sub.channel, sub.region, reason)

    def notify(self, pausing: Pausing) -> None:
        """Tell each channel which of its subscriptions were paused, and why: one notice a
        channel (in the background)."""
        for (channel, reason), names in pausing.regions.items():
            self.in_flight.spawn(self._notice(channel, names, reason))

    async def _notice(self, channel: ChannelRef, keys: list[str], reason: str) -> None:
        names = join_names([regions.get(key).name for key in keys])
        which = "subscription" if len(keys) == 1 else "subscriptions"
        again = f"{PREFIX} resume {keys[0]}" if len(keys) == 1 else f"{PREFIX} resume"
        text = (
            f"signalbot paused this channel's {names} {which}: {reason}. "
            f"Fix the problem, then type {again}."
        )
        try:
            await self.senders[channel.platform].send(Outgoing(channel, Notice(text)))
        except DeliveryError as error:
            log.info("pause notice to %s not delivered: %s", channel, error.reason)


class Pausing:
    """The subscriptions paused in one round, by channel and reason: one notice for each."""

    __slots__ = ("regions",)

    def __init__(self) -> None:
        self.regions: dict[tuple[ChannelRef, str], list[str]] = {}

    def add(self, channel: ChannelRef, region: str, reason: str) -> None:
        self.regions.setdefault((channel, reason), []).append(region)
