"""E-mail addresses: validation and the one normal form the store keys on.

email-validator checks syntax (internationalised domains and local parts included) without
DNS; the normal form lower-cases the whole address so that ``Ann@Example.org`` and
``ann@example.org`` are one subscriber. CR, LF and other controls are refused before they
can reach a header, and so is a local part over 64 octets (RFC 5321). How an address is
written in a mail (IDNA 2008 A-label domain) is :func:`publisher.mailheaders.wire_address`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from publisher.exceptions import SubscriberError
from publisher.text import N_

MAX_ADDRESS_LENGTH = 254
MAX_LOCAL_LENGTH = 64
_CONTROLS = re.compile("[\x00-\x1f\x7f]")
# An unquoted ASCII local part (RFC 5322 dot-atom): exactly what email-validator accepts
# for ASCII, so only the domain needs its (slow, IDNA) check, done once per domain.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
# The commonest shape of all, tried first: a dot-atom, "@", a domain of ASCII letters,
# digits, dots and hyphens; nothing else (no space, control, quote or non-ASCII character),
# so the checks below hold by construction and only the length limits and the domain's
# own check (cached) remain.
_PLAIN = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@([A-Za-z0-9.-]+)")


def normalise_address(raw: str) -> str:
    """The address in normal form; SubscriberError (field ``email``) when it is not valid."""
    plain = _PLAIN.fullmatch(raw) if isinstance(raw, str) else None
    if plain is not None and len(raw) <= MAX_ADDRESS_LENGTH and plain.end(1) <= MAX_LOCAL_LENGTH:
        # ASCII: characters are octets. The answer of the path below, without its steps.
        return f"{plain[1]}@{_normal_domain(plain[2])}".lower()
    if not isinstance(raw, str) or not raw.strip():
        raise SubscriberError(N_("e-mail address is empty"), "email")
    text = raw.strip()
    if _CONTROLS.search(text):
        raise SubscriberError(N_("e-mail address contains control characters"), "email")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise SubscriberError(
            N_("e-mail address is longer than %(limit)s characters"),
            "email",
            limit=MAX_ADDRESS_LENGTH,
        )
    local, at, domain = text.rpartition("@")
    if at and _DOT_ATOM.fullmatch(local):
        _check_local(local)
        # Fast path for the common case (CSV imports of 100,000 rows): same answer as below.
        return f"{local}@{_normal_domain(domain)}".lower()
    return _validate(text)


def _check_local(local: str) -> None:
    """RFC 5321 4.5.3.1.1: at most 64 octets before the @ (email-validator lets more pass)."""
    if len(local.encode("utf-8")) > MAX_LOCAL_LENGTH:
        raise SubscriberError(
            N_("the part before @ is longer than %(limit)s octets"), "email", limit=MAX_LOCAL_LENGTH
        )


def _validate(text: str) -> str:
    _check_local(text.rpartition("@")[0])
    try:
        valid = validate_email(text, check_deliverability=False, allow_quoted_local=False)
    except EmailNotValidError as exc:
        raise SubscriberError(N_("e-mail address is not valid"), "email", str(exc)) from exc
    return str(valid.normalized).lower()


@lru_cache(maxsize=4096)
def _normal_domain(domain: str) -> str:
    """The normal form of a domain, checked once per distinct domain by email-validator."""
    return _validate(f"a@{domain}").rpartition("@")[2]
