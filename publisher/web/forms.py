"""Reading a request body as a form or as JSON, with clear 4xx answers for bad bodies."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from publisher.text import N_, ReaderText

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/json"


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is not one."""
    body = await request.body()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise HTTPException(400, N_("malformed JSON: nested too deeply")) from exc
    if not isinstance(data, dict):
        raise HTTPException(400, N_("the JSON body must be an object"))
    return data


async def form_fields(request: Request) -> dict[str, Any]:
    """The body as form fields (repeated names become lists); 415 for other types."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in FORM_TYPES:
        raise HTTPException(415, f"expected a form ({' or '.join(FORM_TYPES)})")
    form = await request.form(max_files=0, max_fields=100)
    fields: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        fields[key] = values if len(values) > 1 or key == "categories" else next(iter(values), "")
    return fields


# The readers' form fields by the name a reader knows them by (in errors about them).
FIELD_LABELS = {
    "email": N_("e-mail address"),
    "name": N_("name"),
    "frequency": N_("frequency"),
    "language": N_("language"),
    "timezone": N_("time zone"),
}


def _label(name: str) -> str:
    return ReaderText(FIELD_LABELS[name]) if name in FIELD_LABELS else name


def text_field(data: dict[str, Any], name: str, limit: int = 500) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HTTPException(400, ReaderText(N_("%(field)s must be text"), field=_label(name)))
    if len(value) > limit:
        raise HTTPException(
            400,
            ReaderText(
                N_("%(field)s is longer than %(limit)s characters"),
                field=_label(name),
                limit=limit,
            ),
        )
    return value
