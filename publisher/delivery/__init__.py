"""Delivery: transports that hand messages over, and the sender that drains the ledger."""

from publisher.delivery.ratelimit import RateLimiter
from publisher.delivery.sender import (
    Ledger,
    MessageFactory,
    Sender,
    SenderOptions,
    Tally,
    TransportFactory,
    WaitListener,
    make_worker_id,
)
from publisher.delivery.smtp import SmtpOptions, SmtpTransport
from publisher.delivery.transports import MemoryTransport, OutboxTransport, Transport

__all__ = [
    "Ledger",
    "MemoryTransport",
    "MessageFactory",
    "OutboxTransport",
    "RateLimiter",
    "Sender",
    "SenderOptions",
    "SmtpOptions",
    "SmtpTransport",
    "Tally",
    "Transport",
    "TransportFactory",
    "WaitListener",
    "make_worker_id",
]
