"""Page furniture in copy pasted from news sites: the lines around a story that are not it.

Recognised wherever they stand (case-insensitive): navigation ("Skip to main content",
menus of short items, breadcrumbs such as ``Home › World › Asia``), banners ("| Welcome
to X", "X - Back to home"), share and follow prompts, newsletter and app promotions,
reading times, promo lines ("Read more: ...", "Also Read | ...", "RELATED: ..."), photo
credits and captions that end in one, wire credits ("(Reporting by ...; Editing by ...)"),
copyright and print-edition lines, comment boxes.

A *box heading* ("Related Articles", "Explore more on these topics", "Read Next",
"Suggested Topics:") starts a block of links: it and the short lines after it go, up to
the next line that reads as a sentence.

Wire datelines (``KARACHI, Jan 14 (Agency) -``, ``NEW ORLEANS (AN) —``, ``LAHORE:``) are
cut from the start of a paragraph by :func:`strip_dateline`.
"""

from __future__ import annotations

import re

_FLAGS = re.IGNORECASE | re.VERBOSE
_WHOLE_LINE = re.compile(
    r"""^(?:
      skip\s+to\b.* | .*\bback\s+to\s+home$ | \|?\s*welcome\s+to\s+.{1,60}
    | menu | search | log\s?in | sign\s?in | sign\s?up | register | subscribe | my\s+account
    | e-?paper | today['’]?s\s+paper | live(?:\s+tv)? | video | more | home | latest
    | save | bookmark | follow(?:\s+us)? | listen(?:\s+to\s+(?:this\s+article|the\s+story).*)?
    | share\w*\d*(?:\s+(?:this|full)\s+(?:article|story))? | copy(?:\s+link)? | link\s+copied
    | print(?:\s+this\s+page)? | e-?mail | comments? | like | restack | write | open\s+in\s+app
    | reuse\s+this\s+content | advertisement\b.* | skip\s+advertisement | advert
    | sponsored(?:\s+content)? | story\s+continues\s+below.* | text\s+ad:.* | tweet
    | breaking(?:\s+news)? | (?:latest|top|local|general|world)\s+news | short\s+link:?
    | views?:\s*[\d,]+ | comments?\s*\(\d+\) | add\s+(?:a\s+)?new\s+comment
    | leave\s+a\s+(?:reply|comment).* | cancel\s+reply
    | \d+\s*(?:-\s*)?min(?:ute)?s?(?:\s+read)? | reading\s+time.* | \d+\s*min\s+listen
    | (?:posted\s+in|filed\s+under|tags?|topics|trending(?:\s+topics)?|source|our\s+standards)
        \s*:.* | posted\s+in\s+.*\|.*
    | [(]?(?:reporting|writing|additional\s+reporting|editing|compiled)\s+by\b.*
    | (?:©|copyright\b).* | .*\ball\s+rights\s+reserved\.?
    | published\s+in\s+[^,]{2,60},\s+.*\d{4}\.? | a\s+version\s+of\s+this\s+article\s+appears.*
    | order\s+reprints.* | weather\s+alert:.* | more\s+from\s+.{1,40}
    | (?:photo(?:graph)?s?|pictures?|image|credit|illustration|caption)(?:\s+credit)?\s*:.{0,80}
    | image\s+(?:source|caption),.* | (?:photographs?|pictures?|illustrations?)\s+by\s+.{1,60}
    | file\s+photo\.? | (?:related|suggested)\s+topics?:?
    | comments\s+are\s+moderated.* | for\s+more\s+information,\s+please\s+see\s+our\s+comments.*
    | your\s+email\s+address\s+will\s+not\s+be\s+published.* | share\s+or\s+comment\s+on.*
    )$""",
    _FLAGS,
)
_PROMO = re.compile(
    r"""^(?:
      (?:read\s+more|also\s+read|related|recommended|watch|listen|see\s+also|read\s+next
        |more\s+on\s+this(?:\s+story)?|most\s+read|editor'?s\s+picks?|don'?t\s+miss)
        \s*[:|–—-]\s*\S.*
    | (?:also\s+read|see\s+also)\b.*
    | (?:advertisement|advert)\s*[·|-].*
    | .{0,80}\b(?:follow|join)\s+(?:us|[\w'’ ]{2,40})\s+on\s+(?:whatsapp|twitter|facebook|x
        |telegram|instagram|google\s+news).*
    | .{0,60}\b(?:like|follow)\s+us\s+on\b.* | stay\s+informed\b.*
    | keep\s+up\s+with\s+the\s+latest.*
    | get\s+the\s+(?:biggest|best|latest)\b.* | .{0,80}\bsign\s+up\s+(?:to|for)\b.*
    | thanks\s+for\s+reading\b.* | support\s+.{0,40}\bjournalism\b.* | good\s+journalism\s+costs.*
    | .{0,40}\bdownload\s+(?:the|our)\s+.{0,30}\bapp\b.* | get\s+current\s+updates\s+on\b.*
    | for\s+the\s+latest\s+news,?\s+subscribe.* | click\s+here\b.* | tap\s+here\b.*
    )$""",
    _FLAGS,
)
_BOX_HEADING = re.compile(
    r"""^(?:read\s+more|read\s+next|related(?:\s+(?:articles?|stories|coverage|content|links
        |topics?|news))?|recommended(?:\s+for\s+you)?|more\s+on\s+this\s+story
        |explore\s+more\s+on\s+these\s+topics|suggested\s+topics|you\s+may\s+also\s+like
        |most\s+(?:read|viewed|popular)(?:\s+news)?|trending(?:\s+now)?|also\s+read|don'?t\s+miss
        |editor'?s\s+picks?|more\s+stories|top\s+stories|tags|topics)\s*:?$""",
    _FLAGS,
)
_SOCIAL = frozenset({
    "facebook", "twitter", "x", "whatsapp", "telegram", "linkedin", "email", "e-mail", "print",
    "share", "copy", "link", "reddit", "pinterest", "instagram", "youtube", "tiktok", "tweet",
    "comment", "comments", "messenger", "threads", "bluesky",
})  # fmt: skip
_CAPTION_CREDIT = re.compile(
    r"(?:[.)]\s+|\s[|–—-]\s+)(?:photo(?:graph)?|picture|image|credit|file)\s*:\s*[^.]{1,60}$"
    r"|\.\s*\[[^\]]{2,60}\]$|\((?:photo|picture|image)s?\s*:\s*[^)]{1,60}\)$",
    re.IGNORECASE,
)
_NAME_SLASH_OUTLET = re.compile(
    r"^[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}\s*/\s*[A-Z][\w'’. -]{1,40}$"
)
_MENU_SPLIT = re.compile(r"\s{2,}|\s+[|/·•›»>]\s+|(?<=\w)\|(?=\w)")
_CRUMB_SPLIT = re.compile(r"\s*[›»>]\s*|\s+/\s+")
_DATELINE = re.compile(
    r"""^(?:
      [A-Z][A-Z.'’ -]{1,30}[A-Z.](?:,\s*[A-Z][A-Za-z.]+(?:\s[A-Z][a-z.]+)?)*
        (?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?(?:\s*\([^)]{1,30}\))?\s*(?:--?|–|—|:)\s*
    | [A-Z][a-z]+(?:[ -][A-Z][a-z]+)?,\s*[A-Z][a-z]+\.?(?:\s+\d{1,2})?(?:\s*\([^)]{1,30}\))?
        \s*(?:--?|–|—)\s+
    )""",
    re.VERBOSE,
)


def is_furniture(text: str) -> bool:
    """Whether a whole line is page furniture (see the module docstring)."""
    if not any(c.isalpha() for c in text):
        return True
    return bool(
        _WHOLE_LINE.match(text)
        or _PROMO.match(text)
        or _is_social(text)
        or _is_menu(text)
        or (len(text) <= 300 and _CAPTION_CREDIT.search(text))
        or _NAME_SLASH_OUTLET.match(text)
        or _is_dateline_only(text)
    )


def is_box_heading(text: str) -> bool:
    """A heading over a block of links ("Related Articles"), dropped with the block."""
    return bool(_BOX_HEADING.match(text))


def _is_social(text: str) -> bool:
    """ "Facebook Twitter WhatsApp", "Share on Facebook": a row of share buttons."""
    words = [w.strip(".,:;") for w in text.lower().split()]
    if words[:2] == ["share", "on"] or words[:2] == ["share", "by"]:
        return len(words) <= 4
    return bool(words) and all(w in _SOCIAL for w in words)


def _is_menu(text: str) -> bool:
    """A navigation row or breadcrumb: short items split by wide gaps or separators."""
    parts = [p for p in _MENU_SPLIT.split(text) if p.strip()]
    if len(parts) >= 2 and all(_short_label(p) for p in parts):
        return True
    crumbs = [p for p in _CRUMB_SPLIT.split(text) if p.strip()]
    return len(crumbs) >= 3 and all(_short_label(p) for p in crumbs[:2])


def _short_label(text: str) -> bool:
    words = text.split()
    return 0 < len(words) <= 3 and not re.search(r"[.!?,;]$", text) and text[:1].isupper()


def _is_dateline_only(text: str) -> bool:
    """A dateline on a line of its own: "LAHORE:"."""
    return re.fullmatch(r"[A-Z][A-Z .'’-]{1,30}:", text) is not None


def strip_dateline(text: str) -> str:
    """A paragraph without the wire dateline it starts with, if any."""
    match = _DATELINE.match(text)
    if match is None or len(text) - match.end() < 20:
        return text
    return text[match.end() :]
