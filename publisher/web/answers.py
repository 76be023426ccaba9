"""Responses built once and sent as they are: status, raw header pairs and body.

The feed files (:mod:`publisher.web.feeds`) and the cached pages
(:mod:`publisher.web.pagecache`) are answered in front of Starlette from bytes prepared
per content version, so a hit costs a lookup and two ASGI messages. The same answer goes
through the app as a :class:`AnswerResponse` when the app itself makes it (a first read).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Send

Raw = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Raw
    body: bytes


class AnswerResponse(Response):
    """An :class:`Answer` as a Starlette response (the app's own path to the same bytes)."""

    def __init__(self, answer: Answer) -> None:
        self.status_code = answer.status
        self.body = answer.body
        self.background = None
        self.raw_headers = list(answer.headers)


async def send_answer(send: Send, answer: Answer) -> None:
    """Send ``answer`` as the response (the server leaves the body out for ``HEAD``)."""
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})
