"""Settings: one table, four sources, every problem reported at once.

The table is the dataclasses below: each field is a setting with its type, default and help
(in the field's metadata), so ``publisher config show`` and ``docs/settings.md`` are made
from the same place the code reads. Precedence, highest first:

    process environment  >  .env  >  config/publisher.toml  >  code default

Environment names are ``PUBLISHER_<SECTION>__<KEY>`` (``PUBLISHER_SMTP__HOST``); top-level
settings drop the section (``PUBLISHER_SECRET_KEY``). ``.env`` is read with
``dotenv_values`` so ``os.environ`` is never touched and tests pass their own mapping.

This module is the only reader of configuration files and of the environment.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import ipaddress
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from publisher.exceptions import ConfigError

ENV_PREFIX = "PUBLISHER_"
CONFIG_FILE = Path("config/publisher.toml")
ENV_FILE = Path(".env")
# PUBLISHER_* names that are not settings: where the project is, and the test harness's own.
NOT_SETTINGS = ("PUBLISHER_ROOT", "PUBLISHER_CONFIG")
NOT_SETTINGS_PREFIXES = ("PUBLISHER_TEST_", "PUBLISHER_CI_", "PUBLISHER_UPDATE_")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Secret(str):
    """A string that never shows itself in a repr, a log line or ``config show``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('********')" if self else "Secret('')"

    @property
    def masked(self) -> str:
        return "********" if self else ""


Check = Callable[[Any], str | None]


def setting(default: Any, help: str, check: Check | None = None) -> Any:
    """Declare one setting: its default, a help line, and an optional value check.

    ``check`` returns ``None`` when the value is fine, else what is wrong with it.
    """
    return field(default=default, metadata={"help": help, "check": check})


# --- checks ---------------------------------------------------------------------------------


def _check_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an absolute http(s) URL"
    return None


def _check_timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "is not an IANA time zone (e.g. Europe/London)"
    return None


def parse_clock(value: str) -> time:
    """Parse ``HH:MM`` or ``HH:MM:SS`` (24-hour) into a time; raise ValueError otherwise."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value.strip())
    if not match:
        raise ValueError(value)
    return time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _check_clock(value: str) -> str | None:
    try:
        parse_clock(value)
    except ValueError:
        return "must be a time of day as HH:MM or HH:MM:SS (00:00 to 23:59)"
    return None


def _check_weekday(value: str) -> str | None:
    if value.strip().lower() not in WEEKDAYS:
        return "must be a weekday name (monday ... sunday)"
    return None


def _one_of(*choices: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _at_least(minimum: float) -> Check:
    def check(value: float) -> str | None:
        return None if value >= minimum else f"must be at least {minimum:g}"

    return check


def _check_networks(value: tuple[str, ...]) -> str | None:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            return f"{item!r} is not an IP address or network (e.g. 10.0.0.0/8, ::1)"
    return None


def _check_database_url(value: str) -> str | None:
    if not value.startswith(("sqlite:", "postgresql")):
        return "must be a sqlite:/// or postgresql+psycopg:// URL"
    return None


def _check_address(value: str) -> str | None:
    if value and ("@" not in value or any(c in value for c in "\r\n<>,; ")):
        return "must be a bare e-mail address (name@example.org)"
    return None


def _check_sender_id(value: str) -> str | None:
    if not 5 <= len(value) <= 15 or not all(
        c.isascii() and (c.isalnum() or c in "-_.") for c in value
    ):
        return "must be 5-15 letters, digits, '-', '_' or '.'"
    return None


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteSettings:
    url: str = setting(
        "http://127.0.0.1:8000",
        "Public base URL of the site; when unset it follows web.host and web.port.",
        _check_url,
    )
    title: str = setting("Publisher Demo", "Site name shown in feeds, pages and mail.")
    description: str = setting(
        "News from the newsroom.", "One-line description of the site (feeds, home page)."
    )
    timezone: str = setting("UTC", "IANA time zone of the newsroom.", _check_timezone)
    language: str = setting("en", "Language tag of the content (BCP 47).")
    postal_address: str = setting(
        "Publisher Demo, 1 Example Street, Example City",
        "Postal address printed in every digest footer (bulk-mail law).",
    )
    logo_url: str = setting("", "Absolute URL of a logo image for the digest header.")


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = setting(
        "sqlite:///var/publisher.db",
        "SQLAlchemy URL; relative SQLite paths are under the project folder.",
        _check_database_url,
    )


@dataclass(frozen=True)
class IngestSettings:
    max_file_bytes: int = setting(
        5_000_000, "Largest article source accepted, in bytes.", _at_least(1)
    )
    summary_length: int = setting(300, "Longest derived summary, in characters.", _at_least(40))


@dataclass(frozen=True)
class FeedsSettings:
    dir: Path = setting(Path("feeds"), "Folder the generated feeds are written to.")
    items: int = setting(50, "Articles in each feed (newest first).", _at_least(1))
    hubs: tuple[str, ...] = setting((), "WebSub hub URLs to notify (comma separated).")
    max_age: int = setting(300, "Cache-Control max-age for feeds, in seconds.", _at_least(0))
    archives: bool = setting(True, "Write RFC 5005 monthly archive pages for older articles.")
    hub_attempts: int = setting(6, "Tries per WebSub hub ping before giving up.", _at_least(1))
    hub_retry_seconds: float = setting(
        5.0, "First WebSub retry delay; doubles each try, with jitter.", _at_least(0)
    )


@dataclass(frozen=True)
class DigestSettings:
    daily_at: str = setting(
        "07:00", "Local time the daily digest goes out (HH:MM or HH:MM:SS).", _check_clock
    )
    weekly_on: str = setting("monday", "Weekday the weekly digest goes out.", _check_weekday)
    max_articles: int = setting(
        25, "Most articles in one digest; the rest is linked.", _at_least(1)
    )
    send_empty: bool = setting(False, "Send an edition that has no articles.")
    local_delivery: bool = setting(
        False,
        "Deliver the daily digest at daily_at in each reader's own time zone (the first such "
        "moment at or after the edition closes at the site's daily_at).",
    )
    max_age_days: int = setting(
        7,
        "Articles dated more than this many days before an edition are not mailed, "
        "however late they entered the store.",
        _at_least(1),
    )
    category_order: tuple[str, ...] = setting(
        (), "Category slugs in the order the digest shows them (others follow)."
    )
    from_address: str = setting(
        "newsletter@localhost", "From address of the digest.", _check_address
    )
    from_name: str = setting("", "Display name in From (defaults to the site title).")
    sender_id: str = setting(
        "publisher", "Stable Feedback-ID sender id (5-15 characters).", _check_sender_id
    )
    misfire_grace_seconds: int = setting(
        86_400, "How late a missed scheduled digest may still start.", _at_least(1)
    )
    reply_to: str = setting("", "Reply-To address of the digest (empty: none).", _check_address)
    logo_width: int = setting(160, "Width of site.logo_url in the digest, in px.", _at_least(1))
    logo_height: int = setting(40, "Height of site.logo_url in the digest, in px.", _at_least(1))


@dataclass(frozen=True)
class MailSettings:
    transport: str = setting(
        "outbox",
        "Where mail goes: outbox (a folder of .eml files) or smtp.",
        _one_of("outbox", "smtp"),
    )
    outbox_dir: Path = setting(Path("var/outbox"), "Folder the outbox transport writes to.")
    max_attempts: int = setting(6, "Tries before a deferred delivery fails.", _at_least(1))
    retry_base_seconds: float = setting(
        30.0, "First retry delay; doubles each try, with jitter.", _at_least(0)
    )
    # 1000, not 200: a claim holds the interpreter lock on the sender's claim thread for
    # ~10 ms of statements and rows (~20 ms for 1000 rows), time the SMTP loop waits.
    # 20,000 readers, one process on 2 cores: 200 rows a claim 7.2-8.1 s for the whole
    # `digest send`, 1000 rows 6.1-6.4 s. What else the size sets: a sender holds up to
    # two batches besides its messages in flight, and rows of a killed one wait for its
    # lease or its session to end (neither depends on the size).
    batch_size: int = setting(1000, "Deliveries a worker claims at once.", _at_least(1))
    lease_seconds: int = setting(
        30,
        "How long a claim lasts unless its worker's heartbeat renews it (every third of it).",
        _at_least(5),
    )
    poll_seconds: float = setting(
        2.0, "How often an idle worker looks for new or due deliveries.", _at_least(0.05)
    )
    helpers_from_rows: int = setting(
        10_000,
        "Rows an edition needs before `digest send --workers` lets its helper processes "
        "send; a smaller one is sent by one process.",
        _at_least(0),
    )
    unrecorded_per_connection: int = setting(
        2,
        "Most messages a connection has sent ahead of the ledger: what a crash may repeat "
        "per connection. Higher sends faster on a busy host.",
        _at_least(1),
    )
    ledger_flush: bool = setting(
        False,
        "PostgreSQL: each outcome's commit waits until the database has flushed it to disk. "
        "Off, a commit still survives a killed sender and reaches the disk within a "
        "fraction of a second, as on SQLite; only a crash of the database host within that "
        "moment repeats the messages it had recorded (with the same Message-ID).",
    )
    return_path: str = setting(
        "",
        "Bounce address; each message's envelope sender becomes local+TOKEN@domain (VERP).",
        _check_address,
    )


@dataclass(frozen=True)
class SmtpSettings:
    host: str = setting("localhost", "SMTP server host.")
    port: int = setting(25, "SMTP server port.", _at_least(1))
    username: str = setting("", "SMTP user name (empty: no authentication).")
    password: Secret = setting(Secret(""), "SMTP password.")
    security: str = setting(
        "none", "Connection security: none, starttls, tls.", _one_of("none", "starttls", "tls")
    )
    timeout: float = setting(30.0, "Socket timeout in seconds.", _at_least(0.1))
    # 8, not 4: each connection may run only ``mail.unrecorded_per_connection`` messages
    # ahead of the ledger, so with few connections a sender waits for commits, not for the
    # server. 20,000 readers, one process on 2 cores: 4 connections 8.3-8.8 s for the
    # whole `digest send`, 8 connections 6.5-7.0 s. A crash may repeat 2 per connection.
    connections: int = setting(
        8,
        "Connections to the server per sending process (all on one event loop). A crash "
        "may repeat up to mail.unrecorded_per_connection messages per connection; lower it "
        "for a relay that limits connections per client.",
        _at_least(1),
    )
    rate: float = setting(0.0, "Messages per second (0 = unlimited).", _at_least(0))


@dataclass(frozen=True)
class DkimSettings:
    private_key_path: str = setting("", "PEM private key; empty disables DKIM signing.")
    selector: str = setting("mail", "DKIM selector (s=).")
    domain: str = setting("", "DKIM signing domain (d=); defaults to the From domain.")
    ed25519_key_path: str = setting(
        "", "PEM Ed25519 private key for a second signature (RFC 8463); empty: RSA only."
    )
    ed25519_selector: str = setting("ed", "Selector (s=) of the Ed25519 signature.")


@dataclass(frozen=True)
class WebSettings:
    host: str = setting("127.0.0.1", "Address the web service listens on.")
    port: int = setting(8000, "Port the web service listens on.", _at_least(1))
    api_token: Secret = setting(Secret(""), "Bearer token for the publishing API.")
    max_body_bytes: int = setting(
        2_000_000, "Largest request body accepted, in bytes.", _at_least(1024)
    )
    subscribe_per_minute: int = setting(
        10, "Subscribe requests allowed per IP per minute.", _at_least(1)
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "Addresses or networks of reverse proxies whose X-Forwarded-For and Forwarded "
        "headers are believed (comma separated); none by default.",
        _check_networks,
    )
    request_timeout: float = setting(
        10.0,
        "Seconds a client has to send a whole request (head and body); slower ones are cut.",
        _at_least(0.1),
    )
    keep_alive_seconds: int = setting(
        5, "Seconds an idle keep-alive connection is kept open.", _at_least(1)
    )
    max_connections: int = setting(
        1000, "Open connections at most; above it new requests get 503.", _at_least(1)
    )


def _check_listen(value: str) -> str | None:
    host, _, port = value.rpartition(":")
    if value and (not host or not port.isdigit() or not 0 < int(port) < 65536):
        return "must be HOST:PORT (e.g. 127.0.0.1:9108), or empty to turn it off"
    return None


@dataclass(frozen=True)
class MetricsSettings:
    listen: str = setting(
        "",
        "HOST:PORT serving /metrics (Prometheus) apart from the site; empty: off.",
        _check_listen,
    )


@dataclass(frozen=True)
class TemplatesSettings:
    dir: str = setting(
        "",
        "Folder of the newsroom's own templates (email/, web/), searched before the built-in "
        "ones; a template missing there falls back to the built-in one.",
    )


@dataclass(frozen=True)
class ScheduleSettings:
    publish_check_seconds: int = setting(
        60, "How often scheduled articles are checked and published.", _at_least(1)
    )
    feeds_rebuild_minutes: int = setting(
        60, "How often every feed is rebuilt as a safety net (changed bytes only).", _at_least(1)
    )
    leader_poll_seconds: float = setting(
        10.0, "How often a standby scheduler tries to become the leader.", _at_least(0.1)
    )
    retry_attempts: int = setting(
        5, "Tries of a scheduled job when the database fails at fire time.", _at_least(1)
    )
    retry_seconds: float = setting(
        30.0, "First wait before retrying a failed scheduled job; doubles each try.", _at_least(0)
    )


@dataclass(frozen=True)
class InboundSettings:
    listen: str = setting(
        "", "HOST:PORT of the inbound LMTP receiver run by `serve` (empty: none).", _check_listen
    )
    lmtp: bool = setting(True, "Speak LMTP on inbound.listen (false: SMTP).")
    max_bytes: int = setting(
        10_000_000, "Largest inbound message accepted, in bytes.", _at_least(1024)
    )
    imap_host: str = setting("", "IMAP server of the bounce mailbox (empty: no polling).")
    imap_port: int = setting(993, "IMAP port.", _at_least(1))
    imap_security: str = setting(
        "tls", "IMAP connection security: tls, starttls, none.", _one_of("tls", "starttls", "none")
    )
    imap_user: str = setting("", "IMAP user name.")
    imap_password: Secret = setting(Secret(""), "IMAP password.")
    imap_folder: str = setting("INBOX", "IMAP folder the bounces land in.")
    imap_done_folder: str = setting(
        "Processed", "IMAP folder each processed message is moved to (created when missing)."
    )
    imap_minutes: int = setting(5, "How often the scheduler polls the mailbox.", _at_least(1))
    ses_topics: tuple[str, ...] = setting(
        (), "SNS topic ARNs accepted at /webhooks/ses (empty: the webhook is off)."
    )
    sns_cert_hosts: tuple[str, ...] = setting(
        ("sns.*.amazonaws.com",),
        "Hosts SNS signing certificates may come from (shell patterns; https only).",
    )
    sns_ca_file: str = setting(
        "", "CA bundle to verify the certificate host with (empty: the system's)."
    )
    mailgun_signing_key: Secret = setting(
        Secret(""), "Mailgun webhook signing key (empty: /webhooks/mailgun is off)."
    )
    postmark_user: str = setting("", "Basic-auth user of /webhooks/postmark (empty: off).")
    postmark_password: Secret = setting(Secret(""), "Basic-auth password of /webhooks/postmark.")
    sendgrid_public_key: str = setting(
        "", "SendGrid signed event webhook public key, base64 (empty: /webhooks/sendgrid is off)."
    )


@dataclass(frozen=True)
class BounceSettings:
    soft_limit: int = setting(
        3, "Soft bounces (within soft_days, none delivered between) that suppress.", _at_least(1)
    )
    soft_days: int = setting(30, "Window the soft bounces are counted in, in days.", _at_least(1))
    complaint_warn: float = setting(
        0.001, "Complaint rate of an edition that `digest status` warns about.", _at_least(0)
    )
    bounce_warn: float = setting(
        0.02, "Bounce rate of an edition that `digest status` warns about.", _at_least(0)
    )


@dataclass(frozen=True)
class EngagementSettings:
    opens: bool = setting(
        False, "Count opens with a 1x1 image (unreliable: image proxies, Apple MPP; tracking)."
    )
    per_reader: bool = setting(
        False, "Keep which reader clicked which link (a privacy choice; off: counts only)."
    )
    utm: bool = setting(False, "Add utm_source, utm_medium and utm_campaign to outgoing links.")
    automated_networks: tuple[str, ...] = setting(
        (),
        "Address ranges (CIDR) of providers' link scanners: their clicks count as automated.",
        _check_networks,
    )
    automated_agents: tuple[str, ...] = setting(
        (), "More user-agent substrings that mark a link scanner (beside the built-in list)."
    )


@dataclass(frozen=True)
class AdminSettings:
    session_hours: float = setting(
        12.0, "How long a dashboard sign-in lasts, in hours.", _at_least(0.05)
    )
    login_per_minute: int = setting(
        5, "Failed sign-ins allowed per address and client per minute.", _at_least(1)
    )


@dataclass(frozen=True)
class Settings:
    """Every setting, resolved. ``root`` is the folder relative paths are under."""

    secret_key: Secret = setting(
        Secret(""), "Key that signs links in mail (written to .env by `publisher init`)."
    )
    secret_key_fallbacks: Secret = setting(
        Secret(""),
        "Former secret keys, comma separated: links they signed are still accepted "
        "(new links use secret_key). See docs/security.md on rotating the key.",
    )
    site: SiteSettings = field(default_factory=SiteSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    feeds: FeedsSettings = field(default_factory=FeedsSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    web: WebSettings = field(default_factory=WebSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)
    bounce: BounceSettings = field(default_factory=BounceSettings)
    engagement: EngagementSettings = field(default_factory=EngagementSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    templates: TemplatesSettings = field(default_factory=TemplatesSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    root: Path = field(default=Path("."), metadata={"internal": True})
    sources: Mapping[str, str] = field(default_factory=dict, metadata={"internal": True})
    # Names in the environment, .env or the TOML file that are not settings, each with the
    # closest valid name: shown by the CLI, never fatal (a typo must not stop a service).
    warnings: tuple[str, ...] = field(default=(), metadata={"internal": True})

    def path(self, value: Path | str) -> Path:
        """Resolve a configured path against the project folder."""
        path = Path(value)
        return path if path.is_absolute() else self.root / path

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite file made absolute under ``root``."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url[len(prefix) :]
            if rest and not rest.startswith(":memory:"):
                return prefix + str(self.path(rest).resolve())
        return url

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)


@dataclass(frozen=True)
class SettingInfo:
    """One row of the settings table: the loader, ``config show`` and the docs read it."""

    name: str
    env: str
    type: str
    default: Any
    help: str
    secret: bool
    kind: Any = field(repr=False, compare=False, default=str)
    check: Check | None = field(repr=False, compare=False, default=None)


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(Settings)
        if dataclasses.is_dataclass(hints[f.name])
    }


def _leaf_fields(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "help" in f.metadata:
            yield f, hints[f.name]


def _type_name(kind: Any) -> str:
    if kind is Secret:
        return "secret"
    if typing.get_origin(kind) is tuple:
        return "list"
    return getattr(kind, "__name__", str(kind))


@functools.cache
def _table() -> tuple[SettingInfo, ...]:
    """The one walk over the dataclasses: every other view of the settings reads this."""
    rows: list[SettingInfo] = []
    for f, kind in _leaf_fields(Settings):
        rows.append(_info(f.name, f, kind))
    for section, cls in _section_types().items():
        for f, kind in _leaf_fields(cls):
            rows.append(_info(f"{section}.{f.name}", f, kind))
    return tuple(rows)


def settings_table() -> list[SettingInfo]:
    """Every setting with its environment name, type, default, help and check."""
    return list(_table())


def _info(name: str, f: dataclasses.Field[Any], kind: Any) -> SettingInfo:
    return SettingInfo(
        name,
        _env_name(name),
        _type_name(kind),
        f.default,
        f.metadata["help"],
        kind is Secret,
        kind,
        f.metadata["check"],
    )


# --- parsing -----------------------------------------------------------------------------------


def _convert(raw: Any, kind: Any) -> Any:
    """Turn a raw value (a string from the environment, or a TOML value) into ``kind``."""
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError("must be true or false")
    if kind is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError("must be a whole number")
        try:
            return int(str(raw).strip().replace("_", ""))
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind is float:
        if isinstance(raw, bool):
            raise ValueError("must be a number")
        try:
            return float(str(raw).strip())
        except ValueError:
            raise ValueError("must be a number") from None
    if typing.get_origin(kind) is tuple:
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    if kind is Path:
        return Path(str(raw))
    if kind is Secret:
        return Secret(str(raw))
    if isinstance(raw, (dict, list)):
        raise ValueError("must be a single value")
    return str(raw)


@dataclass
class _Candidate:
    raw: Any
    source: str


def _flatten_toml(data: Mapping[str, Any], source: str) -> dict[str, _Candidate]:
    flat: dict[str, _Candidate] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{key}.{sub}"] = _Candidate(subvalue, source)
        else:
            flat[key] = _Candidate(value, source)
    return flat


def _from_env(env: Mapping[str, str | None], source: str) -> dict[str, _Candidate]:
    known = {info.env: info.name for info in _table()}
    flat: dict[str, _Candidate] = {}
    for key, value in env.items():
        if key in known and value is not None:
            flat[known[key]] = _Candidate(value, source)
    return flat


def _closest(name: str, valid: list[str]) -> str:
    """``; did you mean X?`` for the valid name nearest ``name`` (empty when none is near)."""
    near = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f"; did you mean {near[0]}?" if near else ""


def _unknown_env_names(env: Mapping[str, str | None], source: str) -> list[str]:
    """A warning per ``PUBLISHER_*`` name in ``env`` that no setting has."""
    known = [info.env for info in _table()]
    found = []
    for key in env:
        if not key.startswith(ENV_PREFIX) or key in known or key in NOT_SETTINGS:
            continue
        if key.startswith(NOT_SETTINGS_PREFIXES):
            continue
        found.append(f"{source}: {key} is not a setting (ignored){_closest(key, known)}")
    return found


def listen_url(host: str, port: int) -> str:
    """The address a browser on this host uses for a server bound to ``host:port``."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def follow_listen(settings: Settings, host: str, port: int) -> Settings:
    """``site.url`` follows the listening address unless a source set it.

    Feed and mail links then point where the server really is when only the port changed
    (``PUBLISHER_WEB__PORT=8001`` or ``serve --port 8001``).
    """
    if "site.url" in settings.sources:
        return settings
    site = dataclasses.replace(settings.site, url=listen_url(host, port))
    return dataclasses.replace(settings, site=site)


def _read_toml(path: Path, problems: list[str]) -> dict[str, _Candidate]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        problems.append(f"{path}: cannot be read as TOML: {exc}")
        return {}
    candidates = _flatten_toml(data, str(path))
    known = {info.name for info in _table()}
    for name in candidates:
        if name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]} ({_env_name(near[0])})?" if near else ""
            problems.append(f"{path}: unknown setting {name!r}{hint}")
    return {name: c for name, c in candidates.items() if name in known}


def load_settings(
    root: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | str | None = None,
    env_file: Path | str | None = None,
) -> Settings:
    """Resolve every setting from its four sources; raise one ConfigError listing all problems.

    ``environ`` defaults to ``os.environ``; ``config_file`` to ``PUBLISHER_CONFIG`` or
    ``config/publisher.toml`` under ``root``; ``env_file`` to ``.env`` under ``root``.
    """
    env = dict(os.environ if environ is None else environ)
    base = Path(root if root is not None else env.get("PUBLISHER_ROOT", ".")).resolve()
    toml_path = Path(config_file or env.get("PUBLISHER_CONFIG") or base / CONFIG_FILE)
    dotenv_path = Path(env_file or base / ENV_FILE)
    problems: list[str] = []

    merged: dict[str, _Candidate] = {}
    warnings: list[str] = []
    merged.update(_read_toml(toml_path, problems))
    if dotenv_path.exists():
        dotenv = dotenv_values(dotenv_path)
        merged.update(_from_env(dotenv, str(dotenv_path)))
        warnings += _unknown_env_names(dotenv, str(dotenv_path))
    merged.update(_from_env(env, "environment"))
    warnings += _unknown_env_names(env, "environment")

    values, sources = _resolve(merged, problems)
    if problems:
        raise ConfigError(problems)
    sections = {name: cls(**values.get(name, {})) for name, cls in _section_types().items()}
    top = values.get("", {})
    settings = Settings(**top, **sections, root=base, sources=sources, warnings=tuple(warnings))
    return follow_listen(settings, settings.web.host, settings.web.port)


def _resolve(
    merged: Mapping[str, _Candidate], problems: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    values: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    table = {info.name: info for info in _table()}
    for name, candidate in merged.items():
        section, _, key = name.rpartition(".")
        env_name = _env_name(name)
        try:
            value = _convert(candidate.raw, table[name].kind)
        except ValueError as exc:
            problems.append(f"{name} ({env_name}, from {candidate.source}): {exc}")
            continue
        check = table[name].check
        message = check(value) if check else None
        if message:
            shown = "********" if table[name].secret else repr(value)
            problems.append(f"{name} ({env_name}, from {candidate.source}): {shown} {message}")
            continue
        values.setdefault(section, {})[key] = value
        sources[name] = candidate.source
    return values, sources


def _env_name(name: str) -> str:
    section, _, key = name.rpartition(".")
    if not section:
        return f"{ENV_PREFIX}{key.upper()}"
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


def value_of(settings: Settings, name: str) -> Any:
    """The effective value of a dotted setting name (``smtp.host``)."""
    target: Any = settings
    for part in name.split("."):
        target = getattr(target, part)
    return target


__all__ = [
    "ENV_FILE",
    "ENV_PREFIX",
    "Secret",
    "SettingInfo",
    "Settings",
    "follow_listen",
    "listen_url",
    "load_settings",
    "parse_clock",
    "settings_table",
    "value_of",
]
