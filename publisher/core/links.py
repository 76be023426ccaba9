"""Every signed URL, unsubscribe mailto and Message-ID, built in one place.

Mail (digest, confirmation, settings links), pages (forms that post to signed paths) and
the archive's generic footer all take their links from :class:`Links`, so a change to how a
link looks, or which key signs it, is made once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from urllib.parse import urlsplit

from publisher.config import Settings
from publisher.core.inbound import digest_addresses
from publisher.digest import message_id_for, message_ids
from publisher.engagement import ReaderTag
from publisher.tokens import Purpose, TokenSigner, fallback_keys
from publisher.types import Recipient, Subscriber


class Links:
    """Links for one site and one secret key; the token signer is made once per process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.site_url = settings.site.url.rstrip("/")
        self.host = (urlsplit(settings.site.url).hostname or "localhost").lower()

    @cached_property
    def signer(self) -> TokenSigner:
        """Signs with the secret key, reads with it and its former keys (key rotation);
        TokenError when no secret key is configured."""
        settings = self._settings
        return TokenSigner(settings.secret_key, fallback_keys(settings.secret_key_fallbacks))

    @property
    def message_domain(self) -> str:
        """The domain of Message-IDs: the sending domain (aligned with DKIM's d=)."""
        return self._settings.digest.from_address.rpartition("@")[2].lower() or "localhost"

    def token(self, purpose: Purpose, subscriber: Subscriber, generation: str = "") -> str:
        """``generation``: the consent round a confirmation link belongs to (tokens.py)."""
        return self.signer.make(purpose, subscriber.id, subscriber.email, generation)

    def path(self, purpose: Purpose, subscriber: Subscriber, generation: str = "") -> str:
        """A signed link as a path on this site (forms post same-origin under the CSP)."""
        return f"/{purpose.value}/{self.token(purpose, subscriber, generation)}"

    def url(self, purpose: Purpose, subscriber: Subscriber, generation: str = "") -> str:
        """The absolute URL of a signed link (``/confirm/``, ``/unsubscribe/``, ...)."""
        return self.site_url + self.path(purpose, subscriber, generation)

    def read(self, purpose: Purpose, token: str) -> tuple[int, str]:
        """(subscriber id, address tag) of a token; TokenError when forged or expired."""
        return self.signer.read(purpose, token)

    def generation(self, token: str) -> str:
        """The consent round a confirmation token names ("" for none)."""
        return self.signer.read_claims(Purpose.CONFIRM, token)[2]

    def check_address(self, tag: str, email: str) -> None:
        self.signer.check_address(tag, email)

    def message_id(self, edition_key: str, subscriber_id: int) -> str:
        """The same for every try of one delivery, so a resend after a crash is a copy."""
        return message_id_for(edition_key, subscriber_id, self.message_domain)

    def recipient(self, edition_key: str, subscriber: Subscriber, edition_id: int = 0) -> Recipient:
        """The per-reader values of one digest: Message-ID, signed links, VERP addresses."""
        make = self.digest_recipients(edition_key, edition_id)
        return make(subscriber.id, subscriber.email, subscriber.name)

    def digest_recipients(
        self, edition_key: str, edition_id: int = 0
    ) -> Callable[[int, str, str], Recipient]:
        """(subscriber id, email, name) -> :meth:`recipient`, for one edition's send.

        Everything that is the same for every reader of the edition (the URL prefixes, the
        Message-ID's parts, the VERP token's key and edition part) is prepared here once;
        per reader there are two compact tokens (the address hashed once for both), one
        VERP token (for the envelope sender and the mailto alike), and joins of strings.
        """
        signer = self.signer
        message_id = message_ids(edition_key, self.message_domain)
        addresses = digest_addresses(self._settings, self.host, edition_id)
        reader_tag = self.reader_tags(edition_id)
        unsubscribe_at = f"{self.site_url}/{Purpose.UNSUBSCRIBE.value}/"
        preferences_at = f"{self.site_url}/{Purpose.PREFERENCES.value}/"
        purposes = (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES)

        def make(subscriber_id: int, email: str, name: str) -> Recipient:
            unsubscribe, preferences = signer.make_each(purposes, subscriber_id, email)
            return_path, mailto = addresses(subscriber_id, unsubscribe)
            return Recipient(
                subscriber_id=subscriber_id,
                email=email,
                name=name,
                message_id=message_id(subscriber_id),
                unsubscribe_url=unsubscribe_at + unsubscribe,
                unsubscribe_mailto=mailto,
                preferences_url=preferences_at + preferences,
                return_path=return_path,
                reader_tag=reader_tag(subscriber_id) if subscriber_id else "",
            )

        return make

    def reader_tag(self, edition_id: int, subscriber_id: int) -> str:
        """The signed reader suffix of tracked links: only with engagement.per_reader on."""
        return self.reader_tags(edition_id)(subscriber_id) if subscriber_id else ""

    def reader_tags(self, edition_id: int) -> Callable[[int], str]:
        """subscriber id (> 0) -> :meth:`reader_tag` of one edition, set up once per send."""
        if not (self._settings.engagement.per_reader and edition_id):
            return lambda subscriber_id: ""
        return ReaderTag(self._settings.secret_key).for_edition(edition_id)

    def archive_recipient(self, edition_key: str, email: str) -> Recipient:
        """The web copy's reader: footer links to the site's generic, unsigned pages."""
        return Recipient(
            subscriber_id=0,
            email=email,
            name="",
            message_id=self.message_id(edition_key, 0),
            unsubscribe_url=f"{self.site_url}/unsubscribe",
            unsubscribe_mailto=f"mailto:unsubscribe@{self.host}",
            preferences_url=f"{self.site_url}/preferences",
        )
