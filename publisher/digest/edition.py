"""A rendered edition: each variant rendered and serialised once, then filled per reader.

:func:`render_edition` turns the plan of an edition (its variants and who gets which) into a
:class:`RenderedEdition`; :meth:`RenderedEdition.message_for` makes one reader's message by
byte substitution and, when a key is configured, DKIM-signs it.
"""

from __future__ import annotations

import html as html_lib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_date

from publisher.digest import message as m
from publisher.digest.dkim import SIGNED_HEADERS, BodyHasher, DkimSigner
from publisher.digest.message import MessageTemplate, build_template
from publisher.digest.periods import slug_of
from publisher.digest.personalise import Greeting, recipient_values
from publisher.digest.plan import Audience, PlanOptions, Variant
from publisher.digest.render import EmailRenderer
from publisher.exceptions import NotFound
from publisher.i18n import locale_of, number, translations
from publisher.mailheaders import HeaderValue, ListId, Mailbox, Token, UrlList
from publisher.text import isolate, one_line, text_direction, truncate_words
from publisher.types import Article, Frequency, OutgoingMessage, Recipient

WORDS_PER_MINUTE = 230
MAX_SUMMARY = 300
MAX_TITLE = 200
MAX_SUBJECT_TITLE = 90
_TAGS = re.compile(r"<[^>]*>")

LinkRewriter = Callable[[str, str, str, str], str]
"""(url, kind, title, reader placeholder) -> the URL the digest shows (a tracked ``/r/`` one).

Kinds: ``article``, ``archive`` (view in browser), ``category``, ``home``; ``open`` asks
for the open-counting image's URL ("" for none). Called once per link per variant.
"""


def untracked(url: str, kind: str, title: str, reader: str) -> str:
    return "" if kind == "open" else url


@dataclass(frozen=True, slots=True)
class DigestOptions:
    """Everything about the site and sender that rendering needs, as plain values."""

    site_title: str
    site_url: str
    from_address: str
    from_name: str = ""
    reply_to: str = ""
    logo_url: str = ""
    logo_width: int = 160
    logo_height: int = 40
    postal_address: str = ""
    language: str = "en"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    sender_id: str = "publisher"
    plan: PlanOptions = field(default_factory=PlanOptions)

    @property
    def host(self) -> str:
        return (urlsplit(self.site_url).hostname or "localhost").lower()

    @property
    def base_url(self) -> str:
        return self.site_url.rstrip("/")

    def archive_url(self, edition_key: str) -> str:
        return f"{self.base_url}/archive/{edition_key}"


def _absolute(url: str | None) -> str | None:
    if url and urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc:
        return url
    return None


def reading_minutes(article: Article) -> int:
    words = len(html_lib.unescape(_TAGS.sub(" ", article.content_html)).split())
    return max(1, round(words / WORDS_PER_MINUTE))


def article_view(
    article: Article, lead: bool, fallback_url: str, language: str = "en"
) -> dict[str, Any]:
    """What the templates show of an article: cleaned, one-line, absolute URLs only.

    A link that is not an absolute http(s) URL (``javascript:``, relative) is replaced by
    the edition's archive page. Fixed words (reading time, "untitled") are in ``language``.
    """
    t = translations(language)
    title = truncate_words(article.title, MAX_TITLE) or t.gettext("(untitled)")
    minutes = reading_minutes(article)
    category = article.categories[0].name if article.categories else ""
    return {
        "title": title,
        "url": _absolute(article.url) or fallback_url,
        "summary": truncate_words(article.summary, MAX_SUMMARY) if article.summary else "",
        "image_url": _absolute(article.image_url),
        "image_alt": one_line(article.image_alt or "") or title,
        "category": one_line(category),
        "minutes": minutes,
        "reading": t.ngettext("%(num)s min read", "%(num)s min read", minutes)
        % {"num": number(minutes, language)},
        "lead": lead,
        "language": article.language,
    }


def kind_label(frequency: Frequency) -> str:
    """The kind in English, for headers that name the list (List-Id)."""
    return "Daily" if frequency is Frequency.DAILY else "Weekly"


def date_label(frequency: Frequency, issued: datetime, zone: ZoneInfo, language: str = "en") -> str:
    """``Friday 27 November 2026`` (or ``Week 48, 2026``) in ``language``, by Babel."""
    local = issued.astimezone(zone)
    locale = locale_of(language)
    if frequency is Frequency.DAILY:
        return format_date(local, "EEEE d MMMM y", locale=locale)
    _, week, _ = local.isocalendar()
    year = format_date(local, "y", locale=locale)
    week_text = translations(language).gettext("Week %(week)s, %(year)s")
    return week_text % {"week": number(week, language), "year": year}


def intro_for(total: int, frequency: Frequency, language: str = "en") -> str:
    t = translations(language)
    daily = frequency is Frequency.DAILY
    if total == 0:
        return (
            t.gettext("Nothing new was published since the last daily digest.")
            if daily
            else t.gettext("Nothing new was published since the last weekly digest.")
        )
    if daily:
        text = t.ngettext(
            "Here is the one new story since the last daily digest.",
            "Here are the %(num)s new stories since the last daily digest.",
            total,
        )
    else:
        text = t.ngettext(
            "Here is the one new story since the last weekly digest.",
            "Here are the %(num)s new stories since the last weekly digest.",
            total,
        )
    return text % {"num": number(total, language)} if "%(num)s" in text else text


def subject_for(variant: Variant, frequency: Frequency, options: DigestOptions) -> str:
    """``Site Daily: top headline (+11 more)``: one line, cleaned (M4), in the variant's
    language; the site's name and the headline are isolated when their script runs the
    other way (Unicode FSI/PDI), so an English name stays whole in an Urdu subject."""
    t = translations(options.language)
    direction = text_direction(options.language)
    site = isolate(one_line(options.site_title), direction)
    daily = frequency is Frequency.DAILY
    articles = variant.articles
    if not articles:
        empty = (
            t.gettext("%(site)s Daily: nothing new")
            if daily
            else t.gettext("%(site)s Weekly: nothing new")
        )
        return one_line(empty % {"site": site})
    top = isolate(truncate_words(articles[0].title, MAX_SUBJECT_TITLE), direction)
    line = (
        t.gettext("%(site)s Daily: %(headline)s")
        if daily
        else t.gettext("%(site)s Weekly: %(headline)s")
    )
    others = variant.total - 1
    suffix = ""
    if others:
        more = t.ngettext("(+%(num)s more)", "(+%(num)s more)", others)
        suffix = " " + more % {"num": number(others, options.language)}
    return one_line(line % {"site": site, "headline": top} + suffix)


def preheader_for(variant: Variant, language: str = "en") -> str:
    """``8 stories: first title · second title``: whole titles only, at most 140 characters."""
    count = variant.total
    t = translations(language)
    direction = text_direction(language)
    text = t.ngettext("%(num)s story", "%(num)s stories", count) % {"num": number(count, language)}
    for index, article in enumerate(variant.articles[:3]):
        title = isolate(one_line(article.title), direction)
        candidate = f"{text}{': ' if index == 0 else ' · '}{title}"
        if len(candidate) > 140:
            if index == 0:
                text = truncate_words(candidate, 140)
            break
        text = candidate
    return text


def make_placeholders(nonce: str) -> dict[str, str]:
    """Field name -> a placeholder that escaping, inlining and QP all leave untouched."""
    return {f: f"PH{nonce}{f.replace('_', '').upper()}X" for f in m.BODY_FIELDS}


def safe_nonce(variant: Variant, options: DigestOptions, wanted: str | None = None) -> str:
    """A placeholder nonce that no article or setting text contains.

    A random 12-hex nonce already makes a clash hopeless; checking anyway means even a
    title crafted to look like a placeholder (or a fixed nonce in tests) stays literal text.
    """
    seen = " ".join(
        f"{a.title} {a.summary} {a.url} {a.image_url} {a.image_alt} "
        + " ".join(c.name for c in a.categories)
        for a in variant.articles
    )
    seen += f" {options.site_title} {options.postal_address} {options.site_url}"
    nonce = wanted or secrets.token_hex(6)
    while nonce in seen:
        nonce = secrets.token_hex(6)
    return nonce


def variant_context(
    variant: Variant,
    edition_key: str,
    frequency: Frequency,
    issued: datetime,
    options: DigestOptions,
    placeholders: Mapping[str, str],
    link: LinkRewriter = untracked,
) -> dict[str, Any]:
    """The templates' context for one variant (per-reader values are placeholders)."""
    first = variant.articles[0].id if variant.articles else None
    reader = placeholders[m.READER_TAG]
    archive = link(options.archive_url(edition_key), "archive", "View in browser", reader)
    language = options.language
    t = translations(language)
    direction = text_direction(language)

    def article(a: Article) -> dict[str, Any]:
        view = article_view(a, a.id == first, options.archive_url(edition_key), language)
        view["url"] = link(view["url"], "article", view["title"], reader)
        # An article in a language of the other direction is laid out its own way (an
        # English story in an Urdu digest reads left to right, aligned left).
        view["dir"] = text_direction(a.language) if a.language else ""
        return view

    more = ""
    if variant.more:
        more = t.ngettext(
            "%(num)s more story in the archive", "%(num)s more stories in the archive", variant.more
        ) % {"num": number(variant.more, language)}
    sections = [
        {
            "slug": s.slug,
            "other_language": s.other_language,
            "name": one_line(s.name) or t.gettext("More stories"),
            "url": link(f"{options.base_url}/categories/{s.slug}", "category", s.name, reader)
            if s.slug
            else "",
            "articles": [article(a) for a in s.articles],
        }
        for s in variant.sections
    ]
    return {
        "open_image": link("", "open", "", reader),
        "language": language,
        "dir": direction,
        "start": "right" if direction == "rtl" else "left",
        "end": "left" if direction == "rtl" else "right",
        "isolate": lambda value: isolate(str(value), direction),
        "site": {
            "title": one_line(options.site_title),
            "url": link(options.base_url + "/", "home", options.site_title, reader),
            "logo_url": _absolute(options.logo_url),
            "logo_width": options.logo_width,
            "logo_height": options.logo_height,
            "postal_address": one_line(options.postal_address),
            "language": options.language,
        },
        "edition": {
            "key": edition_key,
            "kind": kind_label(frequency),
            "daily": frequency is Frequency.DAILY,
            "date": date_label(frequency, issued, options.timezone, language),
            "archive_url": archive,
            "total": variant.total,
            "more": variant.more,
            "more_label": more,
            "intro": intro_for(variant.total, frequency, language),
        },
        "subject": subject_for(variant, frequency, options),
        "preheader": preheader_for(variant, language),
        "sections": sections,
        "unsubscribe_url": placeholders[m.UNSUBSCRIBE_URL],
        "preferences_url": placeholders[m.PREFERENCES_URL],
        "greeting": placeholders[m.GREETING],
    }


@dataclass(frozen=True)
class RenderedVariant:
    """One variant, rendered and serialised: the source of every reader's copy."""

    key: str
    subject: str
    html: str
    text: str
    placeholders: Mapping[str, str]
    template: MessageTemplate
    article_ids: tuple[int, ...]
    greeting: Greeting = field(default_factory=Greeting)
    """The greeting's words in the variant's language (each reader's name goes in it)."""

    def personal_html(self, recipient: Recipient) -> str:
        """The decoded HTML one reader sees (previews, tests, the archive page)."""
        return self._fill(
            self.html,
            {
                m.UNSUBSCRIBE_URL: html_lib.escape(recipient.unsubscribe_url),
                m.PREFERENCES_URL: html_lib.escape(recipient.preferences_url),
                m.GREETING: self.greeting.html(recipient.name),
                m.READER_TAG: recipient.reader_tag,
            },
        )

    def personal_text(self, recipient: Recipient) -> str:
        return self._fill(
            self.text,
            {
                m.UNSUBSCRIBE_URL: recipient.unsubscribe_url,
                m.PREFERENCES_URL: recipient.preferences_url,
                m.GREETING: self.greeting.text(recipient.name),
                m.READER_TAG: recipient.reader_tag,
            },
        )

    def _fill(self, body: str, values: Mapping[str, str]) -> str:
        for field_name, token in self.placeholders.items():
            body = body.replace(token, values[field_name])
        return body


def fixed_headers(
    subject: str, edition_key: str, frequency: Frequency, options: DigestOptions
) -> list[tuple[str, HeaderValue]]:
    """Headers that are the same for every reader of the edition (B3, B4)."""
    sender = Mailbox(options.from_address, options.from_name or options.site_title)
    kind = frequency.value
    headers: list[tuple[str, HeaderValue]] = [("From", sender), ("Subject", subject)]
    if options.reply_to:
        headers.append(("Reply-To", Mailbox(options.reply_to)))
    description = f"{one_line(options.site_title)} {kind_label(frequency)} Digest"
    headers += [
        ("List-Id", ListId(description, f"{kind}.{options.host}")),
        ("List-Archive", UrlList((f"{options.base_url}/archive",))),
        ("List-Unsubscribe-Post", Token("List-Unsubscribe=One-Click")),
        ("Precedence", Token("bulk")),
        ("Auto-Submitted", Token("auto-generated")),
        ("Feedback-ID", Token(f"digest:{slug_of(edition_key)}:{kind}:{options.sender_id}")),
    ]
    return headers


def render_variant(
    variant: Variant,
    edition_key: str,
    frequency: Frequency,
    issued: datetime,
    options: DigestOptions,
    renderer: EmailRenderer,
    nonce: str | None = None,
    link: LinkRewriter = untracked,
) -> RenderedVariant:
    """Render, inline and serialise one variant (the once-per-variant work)."""
    placeholders = make_placeholders(safe_nonce(variant, options, nonce))
    context = variant_context(variant, edition_key, frequency, issued, options, placeholders, link)
    html = renderer.render_html(context, options.language)
    text = renderer.render_text(context, options.language)
    subject = str(context["subject"])
    headers = fixed_headers(subject, edition_key, frequency, options)
    tokens = {token: field_name for field_name, token in placeholders.items()}
    template = build_template(headers, text, html, tokens, f"{edition_key}/{variant.key}")
    return RenderedVariant(
        variant.key,
        subject,
        html,
        text,
        placeholders,
        template,
        variant.article_ids,
        Greeting.of(options.language),
    )


class RenderedEdition:
    """Every variant of one edition, ready to personalise; cheap to keep and share."""

    def __init__(
        self,
        edition_key: str,
        variants: Mapping[str, RenderedVariant],
        assignments: Mapping[int, str],
        sender: str,
        signer: DkimSigner | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.edition_key = edition_key
        self.variants = dict(variants)
        self.assignments = dict(assignments)
        self.sender = sender
        self.signer = signer
        self.clock = clock or (lambda: datetime.now(UTC))
        self._hashers: dict[str, BodyHasher] = {}  # per variant: the body's fixed parts, hashed

    def variant_of(self, subscriber_id: int) -> str | None:
        """The variant this subscriber gets, or None when the edition has nothing for them."""
        return self.assignments.get(subscriber_id)

    def variant_for(self, subscriber_id: int) -> RenderedVariant:
        key = self.assignments.get(subscriber_id)
        if key is None:
            raise NotFound(f"variant of edition {self.edition_key} for subscriber", subscriber_id)
        return self.variants[key]

    def message_for(self, recipient: Recipient) -> OutgoingMessage:
        """One reader's message: byte substitution, then DKIM signing when configured."""
        return self.message_in(self.variant_for(recipient.subscriber_id), recipient)

    def message_in(self, variant: RenderedVariant, recipient: Recipient) -> OutgoingMessage:
        """:meth:`message_for` with the reader's variant known (the sender's rows name it)."""
        values = recipient_values(recipient, self.clock(), variant.greeting)
        data = variant.template.fill(values)
        if self.signer is not None:
            names = tuple(h for h in SIGNED_HEADERS if h in variant.template.header_names)
            hasher = self._hashers.get(variant.key)
            if hasher is None:
                hasher = self._hashers[variant.key] = BodyHasher(variant.template)
            digest = hasher.digest(values, lambda: data.split(b"\r\n\r\n", 1)[1])
            data = self.signer.sign(data, names, digest)
        return OutgoingMessage(
            sender=recipient.return_path or self.sender,
            recipient=recipient.email,
            message_id=recipient.message_id,
            data=data,
            edition_key=self.edition_key,
            # A DKIM-Signature header's continuation lines start with white space.
            dot_free=variant.template.dot_free(values),
        )


def render_edition(
    edition_key: str,
    frequency: Frequency,
    issued: datetime,
    audience: Audience,
    options: DigestOptions,
    renderer: EmailRenderer,
    signer: DkimSigner | None = None,
    clock: Callable[[], datetime] | None = None,
    nonce: str | None = None,
    link: LinkRewriter = untracked,
) -> RenderedEdition:
    """Render each variant of ``audience`` once; nothing is built per reader here."""
    variants = {
        key: render_variant(variant, edition_key, frequency, issued, options, renderer, nonce, link)
        for key, variant in audience.variants.items()
    }
    return RenderedEdition(
        edition_key, variants, audience.assignments, options.from_address, signer, clock
    )
