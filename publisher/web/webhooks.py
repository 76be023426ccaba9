"""``POST /webhooks/{ses,mailgun,postmark,sendgrid}``: providers reporting bounces,
complaints and unsubscribes over HTTP.

Each is off (404) until its credentials are configured. A call that fails the provider's
authentication answers 401 and is logged with the provider, the reason and the client
address; a body that is not what the provider sends answers 400; a good call answers 200
with how many events were new (a retried call stores nothing twice).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher
from publisher.exceptions import WebhookAuthError

log = logging.getLogger("publisher.webhooks")
PROVIDERS = ("ses", "mailgun", "postmark", "sendgrid")


async def webhook(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    provider = request.path_params["provider"]
    if provider not in PROVIDERS:
        return JSONResponse({"error": "no such webhook"}, status_code=404)
    body = await request.body()
    headers = dict(request.headers)
    try:
        report = await run_in_threadpool(publisher.inbound.webhook, provider, headers, body)
    except WebhookAuthError as exc:
        client = request.client.host if request.client else "?"
        log.warning("refused %s webhook call from %s: %s", provider, client, exc)
        raise
    return JSONResponse({"stored": len(report.stored), "duplicates": report.duplicates})


def routes() -> list[BaseRoute]:
    return [Route("/webhooks/{provider}", webhook, methods=["POST"])]
