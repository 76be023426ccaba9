"""Polling an IMAP bounce mailbox (imap-tools): each message processed, then moved.

For newsrooms whose bounces land in a hosted mailbox. A message is moved to the done
folder only after ``handle`` returned, so a crash or a database error leaves it in place
for the next poll; the events' keys make processing it twice harmless.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxLoginError

from publisher.exceptions import InboundError


@dataclass(frozen=True, slots=True)
class ImapOptions:
    host: str
    port: int
    security: str
    user: str
    password: str
    folder: str
    done_folder: str
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None


def _mailbox(options: ImapOptions) -> BaseMailBox:
    if options.security == "tls":
        return MailBox(
            options.host, options.port, timeout=options.timeout, ssl_context=options.ssl_context
        )
    if options.security == "starttls":
        return MailBoxStartTls(
            options.host, options.port, timeout=options.timeout, ssl_context=options.ssl_context
        )
    return MailBoxUnencrypted(options.host, options.port, timeout=options.timeout)


def fetch_mailbox(options: ImapOptions, handle: Callable[[bytes], object]) -> int:
    """Hand every message of the folder to ``handle`` and move it; return how many."""
    where = f"IMAP {options.user}@{options.host}:{options.port}/{options.folder}"
    try:
        box = _mailbox(options)
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
        raise InboundError(f"{where}: {exc}") from exc
    try:
        box.login(options.user, options.password, options.folder)
    except MailboxLoginError as exc:
        box.client.shutdown()  # the connection is open even though the login failed
        raise InboundError(f"{where}: login refused") from exc
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
        box.client.shutdown()
        raise InboundError(f"{where}: {exc}") from exc
    try:
        with box:
            return _drain(box, options, handle)
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
        raise InboundError(f"{where}: {exc}") from exc


def _drain(box: BaseMailBox, options: ImapOptions, handle: Callable[[bytes], object]) -> int:
    if not box.folder.exists(options.done_folder):
        box.folder.create(options.done_folder)
    done = 0
    for message in box.fetch(mark_seen=False, bulk=50):
        handle(message.obj.as_bytes())
        if message.uid:
            box.move(message.uid, options.done_folder)
        done += 1
    return done
