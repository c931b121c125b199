"""Fan-out: digests and alerts to every channel, within each platform's rate limits.

A push is claimed in the database (one process gets it), its stories are reserved in the
delivery ledger (a story reaches a channel at most once), then sent with bounded concurrency.
429s are honoured (``Retry-After``), server errors and timeouts are retried with backoff. A
message refused for good counts one failure a round for its subscription, and the third in
a row pauses it, with one notice a channel; a channel that cannot take messages (gone, the
bot removed from it) is tried no more that round, each of its subscriptions counting a
failure. A workspace the app left or whose token was refused has all its subscriptions
paused at once, and nothing more is tried there in that scan. One slow or broken channel
never holds up the others.

The parts: :mod:`~bot.delivery.sender` (what a platform's sender is), ``limits``,
``attempts`` (one message), ``plan`` (what a push carries), ``outcomes`` (what a result
means for a subscription), ``scan`` (the due-scan), ``alerts`` (send-now, instant alerts)
and ``engine``, the facade the rest of the bot uses.
"""

from bot.delivery.attempts import CLAIM_LEASE
from bot.delivery.engine import DeliveryEngine
from bot.delivery.outcomes import PAUSE_AFTER_FAILURES, PushOutcome, Status
from bot.delivery.sender import DeliveryError, FailureScope, Outgoing, RateLimits, Sender

__all__ = [
    "CLAIM_LEASE",
    "PAUSE_AFTER_FAILURES",
    "DeliveryEngine",
    "DeliveryError",
    "FailureScope",
    "Outgoing",
    "PushOutcome",
    "RateLimits",
    "Sender",
    "Status",
]
