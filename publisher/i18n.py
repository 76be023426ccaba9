"""Readers' languages: gettext catalogs (managed with Babel) and locale-aware formatting.

The catalogs live in ``publisher/locale/<language>/LC_MESSAGES/messages.po`` and are
compiled to ``.mo`` files that ship in the wheel (``make catalogs`` extracts, updates and
compiles them; see docs/languages.md). A language without a catalog falls back to the
English source strings, so a page is never blank; the locale test makes sure every shipped
language is complete.

Dates and numbers are formatted by Babel from CLDR data, so an Urdu reader sees Urdu month
names and digits as Urdu readers write them.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
# Languages with a complete catalog (the locale test renders every page in each).
LANGUAGES = ("en", "ur", "ar", "fr")


def base_language(tag: str) -> str:
    """``ur`` of ``ur-PK``/``ur_PK``: catalogs are per language, not per region."""
    return tag.replace("_", "-").split("-")[0].lower() or SOURCE_LANGUAGE


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (English source strings when there is none)."""
    base = base_language(language)
    if base == SOURCE_LANGUAGE:
        return NullTranslations()
    found = Translations.load(str(LOCALE_DIR), [base], DOMAIN)
    return found


@cache
def locale_of(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LANGUAGE)


def long_date(moment: datetime, language: str, zone: tzinfo) -> str:
    """``20 November 2026`` in the reader's language, on the newsroom's (or reader's) clock."""
    return format_date(moment.astimezone(zone), "dd MMMM y", locale=locale_of(language))


def month_year(moment: datetime, language: str) -> str:
    """``May 2026`` in the reader's language (an archive page's month, in UTC as its key)."""
    return format_date(moment, "LLLL y", locale=locale_of(language))


def gettext(language: str, message: str, **values: str) -> str:
    """``message`` in ``language`` (English when it has no catalog), ``values`` put in."""
    found = translations(language).gettext(message)
    return found % values if values else found


def long_datetime(moment: datetime, language: str, zone: tzinfo) -> str:
    """``06 May 2024, 00:30 (British Summer Time)`` in the reader's language: a 24-hour
    time (some locales, Urdu among them, write AM/PM in Latin letters) and the zone's name
    in that language, so nobody mistakes the newsroom's clock for theirs."""
    local = moment.astimezone(zone)
    pattern = "dd MMMM y, HH:mm (zzzz)"
    return format_datetime(local, pattern, tzinfo=zone, locale=locale_of(language))


def language_names() -> list[tuple[str, str]]:
    """(code, the language's name in itself) of every shipped language, for a chooser."""
    return [(code, locale_of(code).get_display_name(code) or code) for code in LANGUAGES]


def number(value: int | float, language: str) -> str:
    """A number with the language's digits and separators."""
    return format_decimal(value, locale=locale_of(language))
