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
When no connection can be opened at all, :class:`ServerUnreachable` tells the sender to
pause rather than charge every row a try; a refused login stops the run (ConfigError).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from dataclasses import dataclass

from publisher.delivery.policy import is_hard_bounce
from publisher.exceptions import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    PublisherError,
    RenderError,
    ServerUnreachable,
    TransientDeliveryError,
)
from publisher.mailheaders import wire_address
from publisher.text import one_line
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
    """A reply as one clean line: the server's text can hold anything (NUL, escapes)."""
    raw = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return one_line(raw)


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
        except (smtplib.SMTPException, OSError) as exc:
            raise self._open_error(exc) from exc
        try:
            conn.ehlo()
            if o.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if o.username:
                conn.login(o.username, o.password)
        except (smtplib.SMTPException, OSError) as exc:
            conn.close()  # the socket is open: no leak when the greeting or login fails
            raise self._open_error(exc) from exc
        self.connects += 1
        return conn

    def _open_error(self, exc: Exception) -> PublisherError:
        """What a failure while connecting means to the sender."""
        o = self.options
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            # Not the reader's fault: failing their row would lose the message for good.
            # The run stops with this one line and the claimed rows go back untouched.
            return ConfigError(
                [
                    f"smtp.username/smtp.password: login refused by {o.host}:{o.port}: "
                    f"{exc.smtp_code} {_text(exc.smtp_error)}"
                ]
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            if 400 <= exc.smtp_code <= 499:  # 421 at the greeting: busy for everyone
                text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
                return ServerUnreachable(
                    f"{o.host}:{o.port} refused the connection: {text}", exc.smtp_code
                )
            return reply_error(exc.smtp_code, exc.smtp_error, "connect")
        return ServerUnreachable(f"cannot connect to {o.host}:{o.port}: {exc}")

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
        commands = _envelope(message, conn)
        stage = "MAIL FROM"
        try:
            if conn.has_extn("pipelining"):
                # RFC 2920: MAIL, RCPT and DATA in one write, three replies read after.
                conn.send(b"".join(commands))
                replies = [conn.getreply() for _ in commands]
            else:
                replies = []
                for command in commands:
                    conn.send(command)
                    replies.append(conn.getreply())
                    if replies[-1][0] >= 400:
                        break
            for stage, (code, reply), wanted in zip(
                _STAGES, replies, (250, 250, 354), strict=False
            ):
                if code != wanted and not (stage == "RCPT TO" and code == 251):
                    if replies[-1][0] == 354:  # refused earlier, yet DATA was accepted
                        conn.send(b".\r\n")
                        conn.getreply()
                    self._refused(conn, code, reply, stage)
            stage = "DATA"
            _send_parts(conn, _dot_stuffed(message.data, message.dot_free))
            code, reply = conn.getreply()
            if code != 250:
                self._refused(conn, code, reply, stage)
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


_STAGES = ("MAIL FROM", "RCPT TO", "DATA")


def _address(address: str) -> bytes:
    """The envelope form (IDNA 2008 A-label domain), the same as the To header's."""
    try:
        # Only a non-ASCII local part then needs SMTPUTF8 (RFC 6531).
        return wire_address(address).encode("utf-8")
    except RenderError as exc:
        raise PermanentDeliveryError(f"refusing to send to malformed address: {exc}") from exc


def _envelope(message: OutgoingMessage, conn: smtplib.SMTP) -> list[bytes]:
    """MAIL FROM, RCPT TO and DATA as wire bytes (addresses are normalised upstream).

    Written by hand rather than through ``smtplib.SMTP.mail``/``rcpt``: those parse every
    address again with ``email.utils``, a cost paid per message for nothing.
    """
    sender, recipient = _address(message.sender), _address(message.recipient)
    utf8 = b""
    if not (sender + recipient).isascii():
        if not conn.has_extn("smtputf8"):
            # Not the reader's fault and not final: another relay (or this one, upgraded)
            # can carry it. The row is deferred with this reason, never mailed elsewhere.
            raise TransientDeliveryError(
                f"{message.recipient}: the local part is not ASCII and the server does not "
                "offer SMTPUTF8; deferred until it does"
            )
        utf8 = b" SMTPUTF8"
    return [
        b"MAIL FROM:<" + sender + b">" + utf8 + b"\r\n",
        b"RCPT TO:<" + recipient + b">\r\n",
        b"DATA\r\n",
    ]


def _dot_stuffed(data: bytes, dot_free: bool = False) -> list[bytes]:
    """The message as DATA content: leading dots doubled (RFC 5321 4.5.2), CRLF, final dot.

    The search is done only when a line starts with a dot, which a digest rarely has: the
    regular expression costs more than the rest of the send for a 40 KB message. The end
    marker is a separate part, so the message bytes are never copied to append it. A
    digest knows it has no such line (``OutgoingMessage.dot_free``): no search at all.
    """
    if not dot_free and (data.startswith(b".") or b"\n." in data):
        data = _LEADING_DOT.sub(b"..", data)
    return [data, b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"]


def _send_parts(conn: smtplib.SMTP, parts: list[bytes]) -> None:
    """Write ``parts`` in one system call where the socket allows (gather write)."""
    sock = conn.sock
    if sock is None:
        raise smtplib.SMTPServerDisconnected("not connected")
    if type(sock) is not socket.socket:  # TLS sockets have no sendmsg
        sock.sendall(b"".join(parts))
        return
    written = sock.sendmsg(parts)
    if written < sum(len(part) for part in parts):
        sock.sendall(b"".join(parts)[written:])


_LEADING_DOT = re.compile(rb"(?m)^\.")


class _Stale(Exception):
    """The connection failed before the server saw this message."""
