"""Delivery: transports that hand messages over, and the sender that drains the ledger."""

from publisher.delivery.transports import MemoryTransport, OutboxTransport, Transport

__all__ = ["MemoryTransport", "OutboxTransport", "Transport"]
