"""The SMTP transport: one reused connection per sending lane, replaced when it dies.

The sender runs ``connections`` lanes, each with its own :class:`SmtpTransport`; together
they are the connection pool. A transport connects lazily, keeps the connection for every
following message (MAIL, RCPT, DATA, no reconnect, no RSET between good messages), and
translates every failure into the two errors the sender understands:

- 4xx replies, timeouts and dropped connections -> :class:`TransientDeliveryError`;
- 5xx replies -> :class:`PermanentDeliveryError`, with ``hard_bounce`` for 550/551/553 and
  enhanced status 5.1.x.

After a 421 or a connection fault the connection is dropped, and the next message opens a
new one, so a connection that dies mid-batch costs one deferred message, not the batch.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass

from publisher.delivery.policy import is_hard_bounce
from publisher.exceptions import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from publisher.types import OutgoingMessage


@dataclass(frozen=True)
class SmtpOptions:
    """Where and how to connect; plain values so the delivery package never reads config."""

    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none | starttls | tls
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    local_hostname: str | None = None

    def __repr__(self) -> str:  # the password never reaches logs
        return (
            f"SmtpOptions(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, timeout={self.timeout})"
        )


def _text(reply: bytes | str) -> str:
    raw = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(raw.split())


def reply_error(code: int, reply: bytes | str, stage: str) -> DeliveryError:
    """The error for a refusal ``code`` at ``stage`` (MAIL FROM, RCPT TO, DATA)."""
    text = f"{code} {_text(reply)} (at {stage})"
    if 500 <= code <= 599:
        return PermanentDeliveryError(text, code, hard_bounce=is_hard_bounce(code, text))
    return TransientDeliveryError(text, code)


class SmtpTransport:
    """One SMTP connection, opened on first use and reused until it fails."""

    def __init__(self, options: SmtpOptions) -> None:
        self.options = options
        self._conn: smtplib.SMTP | None = None
        self.connects = 0

    def _open(self) -> smtplib.SMTP:
        o = self.options
        try:
            if o.security == "tls":
                context = ssl.create_default_context()
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    o.host, o.port, o.local_hostname, timeout=o.timeout, context=context
                )
            else:
                conn = smtplib.SMTP(o.host, o.port, o.local_hostname, timeout=o.timeout)
            conn.ehlo()
            if o.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if o.username:
                conn.login(o.username, o.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDeliveryError(
                f"SMTP login refused by {o.host}:{o.port}: {exc.smtp_code}", exc.smtp_code
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise reply_error(exc.smtp_code, exc.smtp_error, "connect") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(f"cannot connect to {o.host}:{o.port}: {exc}") from exc
        self.connects += 1
        return conn

    def send(self, message: OutgoingMessage) -> str:
        reused = self._conn is not None
        try:
            return self._send(message)
        except _Stale as first:
            if not reused:
                raise TransientDeliveryError(f"connection lost at MAIL FROM: {first}") from first
        # A pooled connection the server had closed while idle: one fresh try at once.
        try:
            return self._send(message)
        except _Stale as second:
            raise TransientDeliveryError(f"connection lost at MAIL FROM: {second}") from second

    def _send(self, message: OutgoingMessage) -> str:
        conn = self._conn or self._open()
        self._conn = conn
        stage = "MAIL FROM"
        try:
            code, reply = conn.mail(message.sender)
            if code != 250:
                self._refused(conn, code, reply, stage)
            stage = "RCPT TO"
            code, reply = conn.rcpt(message.recipient)
            if code not in (250, 251):
                self._refused(conn, code, reply, stage)
            stage = "DATA"
            code, reply = conn.data(message.data)
            if code != 250:
                self._refused(conn, code, reply, stage)
        except smtplib.SMTPResponseException as exc:  # DATA answered other than 354
            self._refused(conn, exc.smtp_code, exc.smtp_error, stage)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            if stage == "MAIL FROM":
                raise _Stale(str(exc)) from exc
            raise TransientDeliveryError(f"connection lost at {stage}: {exc}") from exc
        return f"{code} {_text(reply)}"

    def _refused(self, conn: smtplib.SMTP, code: int, reply: bytes | str, stage: str) -> None:
        if code == 421 or code < 0:
            self.close()
        else:
            try:
                conn.rset()
            except (smtplib.SMTPException, OSError):
                self.close()
        raise reply_error(code, reply, stage)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


class _Stale(Exception):
    """The connection failed before the server saw this message."""
