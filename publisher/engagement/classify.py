"""Is a request a person or a machine? HEAD, scanner user agents, provider address ranges.

Mail providers and security gateways fetch every link of a message to check it
(Microsoft Safe Links, Proofpoint, Mimecast, Barracuda, Google's and Yahoo's image proxies);
those fetches are counted apart as "automated" so the human count means something. Timing
alone never makes a click automated: a reader who clicks within a second of delivery is
still a reader.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable

SCANNER_AGENTS = (
    "bot",
    "crawler",
    "spider",
    "preview",
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "safelinks",
    "ms-office",
    "microsoft office",
    "googleimageproxy",
    "yahoomailproxy",
    "python-requests",
    "python-httpx",
    "go-http-client",
    "curl/",
    "wget/",
    "okhttp",
    "headlesschrome",
    "symantec",
    "trendmicro",
    "fortiguard",
    "cisco",
)
"""Lower-case substrings of user agents of link scanners, prefetchers and scripts."""


class Classifier:
    """Decides "human" or "automated" for one request; built once from the settings."""

    def __init__(self, networks: Iterable[str] = (), agents: Iterable[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self.agents = SCANNER_AGENTS + tuple(a.lower() for a in agents if a)

    def automated(self, method: str, user_agent: str, address: str) -> bool:
        if method.upper() == "HEAD" or not user_agent:
            return True
        agent = user_agent.lower()
        if any(marker in agent for marker in self.agents):
            return True
        if self.networks and address:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return False
            return any(ip in network for network in self.networks)
        return False


def client_key(address: str, user_agent: str) -> bytes:
    """A short hash of (address, user agent): which client, never stored, never logged."""
    return hashlib.blake2b(f"{address}\x00{user_agent}".encode(), digest_size=8).digest()
