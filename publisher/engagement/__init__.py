"""Engagement counted without tracking people: signed link tokens, scanner detection, tallies.

A digest's links go through ``/r/TOKEN``. The token names an edition and a link, signed
with the secret key, and nothing about the reader unless the newsroom turns per-reader
counting on. Clicks are counted per edition x link: "human" once per token per client per
hour, "automated" when the request is a HEAD, comes from a known link scanner's user agent
or from a configured provider address range. Timing alone never makes a click automated.
"""

from publisher.engagement.classify import Classifier, client_key
from publisher.engagement.tally import ClickTally, TallyKey
from publisher.engagement.tokens import LinkToken, LinkTokens, ReaderTag

__all__ = [
    "Classifier",
    "ClickTally",
    "LinkToken",
    "LinkTokens",
    "ReaderTag",
    "TallyKey",
    "client_key",
]
