"""The subscription mails' words and look: rendered from the e-mail templates per language.

The confirmation and the settings-link mail (also the fresh link a reader asks for after a
stale unsubscribe link) share the digest's stylesheet, inlined by premailer, and carry a
text part beside the HTML. They speak the reader's language: the one they chose, else the
site's (resolved when the mail is made). The site's title and the reader's name are names:
isolated from the sentence around them (``dir="auto"`` in HTML, FSI/PDI in text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from publisher.digest import EmailRenderer, Greeting
from publisher.i18n import number, translations
from publisher.subscribers import ConfirmationMail, MailBody, ServiceMail, SettingsLinkMail
from publisher.text import N_, isolate, one_line, text_direction

CONFIRM = "confirm"
SETTINGS = "settings"


@dataclass(eq=False)
class ServiceMails:
    """Renders the subscription mails (``confirm.*.j2``, ``settings.*.j2``) in a language."""

    renderer: EmailRenderer

    def _context(self, mail: ServiceMail, language: str, subject: str) -> dict[str, Any]:
        direction = text_direction(language)
        greeting = Greeting.of(language)
        return {
            "language": language,
            "dir": direction,
            "start": "right" if direction == "rtl" else "left",
            "end": "left" if direction == "rtl" else "right",
            "isolate": lambda value: isolate(str(value), direction),
            "subject": subject,
            "site": {"title": one_line(mail.site_title), "url": mail.site_url},
            "greeting_html": Markup(greeting.html(mail.recipient_name)),
            "greeting_text": greeting.text(mail.recipient_name),
        }

    def _render(self, name: str, context: Mapping[str, Any], language: str) -> MailBody:
        html = self.renderer.render_html(context, language, f"{name}.html.j2")
        text = self.renderer.render_text(context, language, f"{name}.txt.j2")
        return MailBody(str(context["subject"]), text, html)

    def _subject(self, message: str, mail: ServiceMail, language: str) -> str:
        site = isolate(one_line(mail.site_title), text_direction(language))
        return one_line(translations(language).gettext(message) % {"site": site})

    def confirmation(self, mail: ConfirmationMail, language: str) -> MailBody:
        """The double opt-in mail: the confirmation link and how long it works."""
        subject = self._subject(N_("Confirm your subscription to %(site)s"), mail, language)
        context = self._context(mail, language, subject)
        t = translations(language)
        context["confirm_url"] = mail.confirm_url
        context["valid_for"] = t.ngettext(
            "The link works for %(num)s day.", "The link works for %(num)s days.", mail.valid_days
        ) % {"num": number(mail.valid_days, language)}
        return self._render(CONFIRM, context, language)

    def settings_link(self, mail: SettingsLinkMail, language: str) -> MailBody:
        """A reader's own preferences and unsubscribe links, as they asked."""
        subject = self._subject(N_("Your newsletter settings at %(site)s"), mail, language)
        context = self._context(mail, language, subject)
        context["preferences_url"] = mail.preferences_url
        context["unsubscribe_url"] = mail.unsubscribe_url
        return self._render(SETTINGS, context, language)
