"""Text hygiene shared by every output: control characters, slugs, one-line header values.

A leaf module like ``types``: it imports nothing from the package. Feeds (feedgen refuses
XML-incompatible strings), mail headers (CR/LF would inject headers) and the store (slugs)
all clean text the same way, here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable

# XML 1.0 forbids C0 controls except TAB, LF, CR; we also drop DEL, C1 controls, lone
# surrogates and the non-characters U+FFFE/U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s+")
_SLUG_DROP = re.compile(r"[^\w\s-]", re.UNICODE)
_SLUG_JOIN = re.compile(r"[\s_-]+", re.UNICODE)


def strip_control(text: str) -> str:
    """Remove characters that are not allowed in XML 1.0 or in mail (keeps tab and newlines)."""
    return _CONTROL.sub("", text)


def one_line(text: str, limit: int | None = None) -> str:
    """Collapse all whitespace (CR and LF included) to single spaces, strip controls.

    Used for titles, names and anything that reaches a header or a single-line field.
    """
    if text.isascii() and text.isprintable() and "  " not in text and text.strip() == text:
        # Already one clean line (a name in a CSV import of a million rows): no regex.
        return text if limit is None or len(text) <= limit else text[:limit].rstrip()
    cleaned = _WHITESPACE.sub(" ", strip_control(text)).strip()
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[:limit].rstrip()
    return cleaned


def slugify(text: str, max_length: int = 80) -> str:
    """A Unicode-aware URL slug: lower case, letters and digits joined by hyphens.

    Letters of every script are kept (``Zürich`` gives ``zürich``, ``東京`` stays); text
    with nothing sluggable (only punctuation) gets a short stable hash instead, so two
    different such names never share a slug.
    """
    normal = unicodedata.normalize("NFKC", strip_control(text)).lower()
    slug = _SLUG_JOIN.sub("-", _SLUG_DROP.sub("", normal)).strip("-")
    slug = slug[:max_length].rstrip("-")
    if not slug:
        slug = "n-" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return slug


_SYMBOL_WORDS = ((re.compile(r"(?<=[\w+])\+"), " plus "), (re.compile(r"(?<=\w)#"), " sharp "))


def category_slug(name: str) -> str:
    """The slug of a category name: :func:`slugify`, with ``+``/``#`` after a word spelt out.

    A category slug names a feed and a subscription choice, so two different topics must not
    share one: plain slugify makes "C++", "C#" and "C" all ``c``. Here they are
    ``c-plus-plus``, ``c-sharp`` and ``c`` ("#MeToo" stays ``metoo``, "Disney+" is
    ``disney-plus``).
    """
    for pattern, word in _SYMBOL_WORDS:
        name = pattern.sub(word, name)
    return slugify(name)


def truncate_words(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary, with an ellipsis when cut."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


RTL_LANGUAGES = frozenset({"ar", "ur", "fa", "he", "ps", "sd", "ug", "yi", "ckb", "dv"})


def text_direction(language: str) -> str:
    """``rtl`` for languages written right to left (Arabic, Urdu, Hebrew, ...), else ``ltr``.

    ``language`` is a code as in ``<html lang>`` (``ur``, ``ar-SA``); only its first part counts.
    """
    return "rtl" if language.split("-")[0].split("_")[0].lower() in RTL_LANGUAGES else "ltr"


LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")
"""A language tag as ``<html lang>`` writes it (``ur``, ``en-GB``, ``zh-Hant-TW``)."""

FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE


def strong_direction(text: str) -> str | None:
    """``rtl`` or ``ltr`` by the first letter with a strong direction; None when none has."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return None


def isolate(value: str, direction: str) -> str:
    """``value`` between FSI and PDI when its script runs against ``direction``.

    A Latin name inside an Urdu sentence (or an Urdu title in an English one) otherwise
    drags the punctuation and numbers around it to the wrong side (Unicode bidi, UAX #9).
    Plain-text mail has no ``<bdi>``: the isolates are its equivalent. Text that already
    runs the page's way is returned as it is.
    """
    if direction == "ltr" and value.isascii():  # ASCII letters are all left-to-right
        return value
    found = strong_direction(value)
    if found is None or found == direction:
        return value
    return f"{FSI}{value}{PDI}"


def N_(message: str) -> str:
    """Mark ``message`` for the translation catalogs without translating it here.

    Babel extracts ``N_("...")`` like ``_("...")``; the text is translated where it reaches
    a reader (a page, a mail), in that reader's language.
    """
    return message


class ReaderText(str):
    """A message a reader may see, as English text (the ``str``) that knows its catalog entry.

    Written where it arises as ``ReaderText(N_("... %(zone)s ..."), zone=name)``: the CLI
    and logs use it as the plain English string; a page translates it where it is shown,
    with :meth:`localised` and the page language's ``gettext``, values put back in.
    """

    message: str
    values: dict[str, object]

    def __new__(cls, message: str, **values: object) -> ReaderText:
        made = super().__new__(cls, message % values if values else message)
        made.message = message
        made.values = values
        return made

    def localised(self, gettext: Callable[[str], str]) -> str:
        """The text in gettext's language. Values that are ReaderTexts themselves (a field's
        label) are translated too; the others (what a reader typed) are bidi-isolated
        (FSI ... PDI), so a Latin address keeps its place inside an Urdu sentence."""
        found = gettext(self.message)
        shown = {
            key: value.localised(gettext)
            if isinstance(value, ReaderText)
            else f"\u2068{value}\u2069"
            for key, value in self.values.items()
        }
        return found % shown if shown else found
