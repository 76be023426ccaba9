"""Which column of a subscriber CSV holds which field, for our files and other tools' exports.

Newsrooms arrive with an export from the tool they leave; it should import as it is.
Header names are compared lower-cased with spaces, dashes and underscores made equal, and
each field takes the first column that names it:

============  ==============================================================================
field         column names
============  ==============================================================================
email         email, email address (Mailchimp), email_address, e-mail
name          name (Substack, Ghost, listmonk, ours); first name + last name (Mailchimp)
frequency     frequency (ours)
categories    categories (ours: slugs, an unknown one rejects the row)
tags          tags (Mailchimp, Buttondown), labels (Ghost), lists (listmonk): those that
              name one of our categories become its categories, the others are ignored
status        status (ours, listmonk, generic), subscriber_type / type (Buttondown),
              subscribed_to_emails (Ghost), email_disabled (Substack), unsub_time and
              clean_time (Mailchimp's unsubscribed and cleaned exports)
consent_at    consent_at (ours), confirm_time, optin_time (Mailchimp), created_at (Ghost,
              Substack, listmonk), creation_date, subscription_date (Buttondown)
language      language (ours), lang, locale: ``ur``, ``ar``, ``fr``, ``en`` (``ur-PK`` as ``ur``)
timezone      timezone (ours), time zone, tz: an IANA name such as ``Asia/Karachi``
============  ==============================================================================

``--map COLUMN=FIELD`` names any other column (``--map "E-Mail-Adresse=email"``); a column
mapped to ``ignore`` is not read.
"""

from __future__ import annotations

import re

FIELDS = (
    "email", "name", "first_name", "last_name", "frequency", "categories", "tags", "status",
    "subscribed", "disabled", "unsubscribed_at", "cleaned_at", "consent_at", "language",
    "timezone", "ignore",
)  # fmt: skip
"""What ``--map`` may name; ``subscribed``/``disabled`` are yes/no columns, the ``*_at``
ones are times whose presence means unsubscribed or cleaned."""

ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "email address", "email_address", "e mail", "e mail address"),
    "name": ("name", "full name"),
    "first_name": ("first name", "fname", "firstname", "given name"),
    "last_name": ("last name", "lname", "lastname", "surname", "family name"),
    "frequency": ("frequency",),
    "categories": ("categories",),
    "tags": ("tags", "labels", "lists"),
    "status": ("status", "subscriber type", "type"),
    "subscribed": ("subscribed to emails", "subscribed"),
    "disabled": ("email disabled",),
    "unsubscribed_at": ("unsub time", "unsubscribe date", "unsubscription date"),
    "cleaned_at": ("clean time",),
    "consent_at": (
        "consent at", "confirm time", "optin time", "created at", "creation date",
        "subscription date", "subscribed at", "date added",
    ),
    "language": ("language", "lang", "locale"),
    "timezone": ("timezone", "time zone", "tz"),
}  # fmt: skip

ACTIVE = frozenset({
    "subscribed", "active", "enabled", "regular", "premium", "gifted", "trialed", "churning",
    "unpaid", "paid", "free", "comped", "confirmed", "opted in",
})  # fmt: skip
"""Status values of people who get the newsletter."""
PENDING = frozenset({"pending", "unactivated", "unconfirmed", "not confirmed"})
"""Status values of people who never confirmed: imported like a new subscriber (pending)."""
GONE = frozenset({
    "unsubscribed", "cleaned", "bounced", "blocklisted", "blacklisted", "blocked", "disabled",
    "removed", "undeliverable", "spammy", "complained", "deleted", "archived", "paused",
})  # fmt: skip
"""Status values of people who must not be mailed: their rows are skipped, never imported."""

_SEPARATORS = re.compile(r"[\s_-]+")
_YES = frozenset({"true", "yes", "1", "y", "t"})
_NO = frozenset({"false", "no", "0", "n", "f"})


def normal(name: str) -> str:
    """A header name as compared: lower case, spaces/dashes/underscores as one space."""
    return _SEPARATORS.sub(" ", name.strip().lower()).strip()


def field_of(header: str, mapping: dict[str, str]) -> str | None:
    """The field a header column holds, ``--map`` first, then the known names."""
    key = normal(header)
    if key in mapping:
        return mapping[key]
    for field, names in ALIASES.items():
        if key in names:
            return field
    return None


def yes_no(value: str) -> bool | None:
    """``True``/``False`` for the yes/no spellings of exports; ``None`` for anything else."""
    text = value.strip().lower()
    return True if text in _YES else False if text in _NO else None
