"""E-mail addresses: validation and the one normal form the store keys on.

email-validator checks syntax (internationalised domains and local parts included) without
DNS; the normal form lower-cases the whole address so that ``Ann@Example.org`` and
``ann@example.org`` are one subscriber. CR, LF and other controls are refused before they
can reach a header.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from publisher.exceptions import SubscriberError

MAX_ADDRESS_LENGTH = 254
MAX_LOCAL_LENGTH = 64
_CONTROLS = re.compile("[\x00-\x1f\x7f]")
# An unquoted ASCII local part (RFC 5322 dot-atom): exactly what email-validator accepts
# for ASCII, so only the domain needs its (slow, IDNA) check, done once per domain.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def normalise_address(raw: str) -> str:
    """The address in normal form; SubscriberError (field ``email``) when it is not valid."""
    if not isinstance(raw, str) or not raw.strip():
        raise SubscriberError("e-mail address is empty", "email")
    text = raw.strip()
    if _CONTROLS.search(text):
        raise SubscriberError("e-mail address contains control characters", "email")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise SubscriberError(
            f"e-mail address is longer than {MAX_ADDRESS_LENGTH} characters", "email"
        )
    local, at, domain = text.rpartition("@")
    if at and len(local) <= MAX_LOCAL_LENGTH and _DOT_ATOM.fullmatch(local):
        # Fast path for the common case (CSV imports of 100,000 rows): same answer as below.
        return f"{local}@{_normal_domain(domain)}".lower()
    return _validate(text)


def _validate(text: str) -> str:
    try:
        valid = validate_email(text, check_deliverability=False, allow_quoted_local=False)
    except EmailNotValidError as exc:
        raise SubscriberError(f"e-mail address is not valid: {exc}", "email") from exc
    return str(valid.normalized).lower()


@lru_cache(maxsize=4096)
def _normal_domain(domain: str) -> str:
    """The normal form of a domain, checked once per distinct domain by email-validator."""
    return _validate(f"a@{domain}").rpartition("@")[2]


def ascii_domain(email: str) -> str:
    """The address with an internationalised domain in its ASCII (IDNA A-label) form.

    Used for the To header and the SMTP envelope alike: ``ann@bücher.de`` then needs no
    SMTPUTF8 from the relay. A non-ASCII local part stays UTF-8 (only SMTPUTF8 carries it).
    """
    if email.isascii():
        return email
    local, _, domain = email.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return email
