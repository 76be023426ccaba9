"""Inbound mail and provider reports -> events: pure functions over bytes and JSON.

``classify`` reads one raw mail; ``webhooks`` reads and authenticates provider calls;
``receiver`` (an aiosmtpd LMTP/SMTP server) and ``imap`` (imap-tools) bring raw mail in.
This package imports leaves only; core stores the events and applies the policy.
"""

from publisher.inbound.classify import Addressing, classify
from publisher.inbound.policy import Action, decide

__all__ = ["Action", "Addressing", "classify", "decide"]
