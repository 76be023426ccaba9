"""Is the SMTP server there? Connect, greet, log in as configured, send NOOP, quit.

``publisher config check`` uses it so a wrong host, port, security mode or password is
found before the first edition instead of during it. It sends no mail.
"""

from __future__ import annotations

import smtplib

from publisher.delivery.smtp import SmtpOptions, SmtpTransport
from publisher.exceptions import DeliveryError


def probe_smtp(options: SmtpOptions) -> str:
    """The server's reply to NOOP; the same errors a send would raise when it cannot."""
    transport = SmtpTransport(options)
    conn = transport._open()  # the same greeting, TLS and login as a real send
    try:
        code, reply = conn.noop()
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{options.host}:{options.port} failed NOOP: {exc}") from exc
    finally:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()
    if code != 250:
        raise DeliveryError(f"{options.host}:{options.port} answered NOOP with {code}")
    return f"{code} {reply.decode('utf-8', 'replace')}".strip()
