"""Templates to HTML and text: Jinja2 (autoescaped), then premailer, once per variant.

premailer 3.10 strips ``!important`` from the ``@media`` rules it keeps, and then the phone
layout loses to the inlined desktop styles: ``strip_important=False`` keeps them. Inlining
costs tens of milliseconds a document, which is why it happens once per variant and readers
only get byte substitution (see :mod:`publisher.digest.message`). Our stylesheet has well
under 128 rules, so premailer's default cssutils cache (``PREMAILER_CACHE_MAXSIZE``, 128)
does not thrash; a larger stylesheet should raise it in the service's environment.

A template that fails raises :class:`RenderError` naming the template file and line, and
nothing is built from a half-rendered template.
"""

from __future__ import annotations

import logging
import re
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from premailer import Premailer

from publisher.exceptions import RenderError
from publisher.i18n import translations

HTML_TEMPLATE = "digest.html.j2"
TEXT_TEMPLATE = "digest.txt.j2"
ZWSP = "\u200b"
LONG_RUN = 30  # characters without a break opportunity before <wbr> is offered
_LONG_RUN = re.compile(rf"\S{{{LONG_RUN},}}")


def breakable(text: object) -> Markup:
    """Escaped text with a zero-width space every 20 characters in runs of 30+ non-spaces.

    A pasted URL or hash in a title or summary has no break opportunity, and a table cell
    grows to fit it: the whole digest then becomes wider than a phone (E1). CSS cannot help
    portably: ``word-break`` and ``overflow-wrap: anywhere`` are unsupported in Yahoo, Gmail
    and Outlook, and ``<wbr>`` in Gmail for iOS and Outlook (caniemail). U+200B is plain
    text every client breaks at, invisible where the text fits. HTML part only: the text
    part wraps in the reader's client and copies of a URL there stay intact.
    """
    value = str(text)
    out: list[str] = []
    last = 0
    for run in _LONG_RUN.finditer(value):
        out.append(str(escape(value[last : run.start()])))
        word = run.group()
        out.append(ZWSP.join(str(escape(word[i : i + 20])) for i in range(0, len(word), 20)))
        last = run.end()
    out.append(str(escape(value[last:])))
    return Markup("".join(out))


def _template_line(exc: BaseException, filename: str | None) -> int | None:
    """The template line of the innermost traceback frame that ran the template."""
    line = None
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class EmailRenderer:
    """Renders the digest templates found in a search path (the first folder holding a
    template wins: a newsroom's own folder, then the built-in one)."""

    def __init__(self, templates_dirs: Path | Sequence[Path]) -> None:
        dirs = [templates_dirs] if isinstance(templates_dirs, Path) else list(templates_dirs)
        self.templates_dir = dirs[0]
        self._dirs = dirs
        self._by_language: dict[str, jinja2.Environment] = {}
        self.env = self.environment("en")

    def environment(self, language: str) -> jinja2.Environment:
        """The templates speaking ``language`` (``{% trans %}``, ``_()``): one per language."""
        found = self._by_language.get(language)
        if found is None:
            found = self._by_language.setdefault(language, self._make(language))
        return found

    def _make(self, language: str) -> jinja2.Environment:
        dirs = self._dirs
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2", "html"),
                disabled_extensions=("txt.j2", "txt", "css"),
                default_for_string=True,
                default=True,
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            extensions=["jinja2.ext.i18n"],
        )
        env.install_gettext_translations(  # type: ignore[attr-defined]
            translations(language), newstyle=True
        )
        env.filters["breakable"] = breakable
        return env

    def render(self, name: str, context: Mapping[str, Any], language: str = "en") -> str:
        """Render one template in ``language``; RenderError (template, line) on any failure."""
        try:
            template = self.environment(language).get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(exc.message or "syntax error", exc.name or name, exc.lineno) from exc
        except jinja2.TemplateNotFound as exc:
            raise RenderError(f"template not found in {self.templates_dir}", name) from exc
        try:
            return template.render(context)
        except jinja2.TemplateSyntaxError as exc:  # an included template
            raise RenderError(exc.message or "syntax error", exc.name or name, exc.lineno) from exc
        except Exception as exc:
            line = _template_line(exc, template.filename)
            raise RenderError(f"{type(exc).__name__}: {exc}", name, line) from exc

    def render_html(
        self, context: Mapping[str, Any], language: str = "en", name: str = HTML_TEMPLATE
    ) -> str:
        """An HTML template (the digest's by default), with its stylesheet inlined."""
        return inline_css(self.render(name, context, language), name)

    def render_text(
        self, context: Mapping[str, Any], language: str = "en", name: str = TEXT_TEMPLATE
    ) -> str:
        return self.render(name, context, language)


def inline_css(document: str, template: str = HTML_TEMPLATE) -> str:
    """premailer with the settings the email standards need (media queries keep !important)."""
    try:
        inliner = Premailer(
            document,
            strip_important=False,
            keep_style_tags=False,
            remove_classes=False,
            disable_validation=True,
            allow_network=False,
            cssutils_logging_level=logging.CRITICAL,
            exclude_pseudoclasses=True,
        )
        return str(inliner.transform(pretty_print=False))
    except Exception as exc:  # premailer and cssutils raise many unrelated types
        raise RenderError(f"cannot inline the stylesheet: {exc}", template) from exc
