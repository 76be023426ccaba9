"""E-mail addresses: validation and the one normal form the store keys on.

email-validator checks syntax (internationalised domains and local parts included) without
DNS; the normal form lower-cases the whole address so that ``Ann@Example.org`` and
``ann@example.org`` are one subscriber. CR, LF and other controls are refused before they
can reach a header.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from publisher.exceptions import SubscriberError

MAX_ADDRESS_LENGTH = 254


def normalise_address(raw: str) -> str:
    """The address in normal form; SubscriberError (field ``email``) when it is not valid."""
    if not isinstance(raw, str) or not raw.strip():
        raise SubscriberError("e-mail address is empty", "email")
    text = raw.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise SubscriberError("e-mail address contains control characters", "email")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise SubscriberError(
            f"e-mail address is longer than {MAX_ADDRESS_LENGTH} characters", "email"
        )
    try:
        valid = validate_email(text, check_deliverability=False, allow_quoted_local=False)
    except EmailNotValidError as exc:
        raise SubscriberError(f"e-mail address is not valid: {exc}", "email") from exc
    return str(valid.normalized).lower()
