"""The digest: which articles an edition holds, who gets which variant, and the messages.

Pure planning (:mod:`.plan`, :mod:`.periods`) is apart from rendering (:mod:`.render`,
Jinja2 + premailer once per variant), serialising (:mod:`.message`, MIME bytes with holes)
and the per-reader step (:mod:`.personalise`: byte substitution, then :mod:`.dkim`).
This package imports only the leaf modules; ``core`` wires it to the store and settings.
"""

from publisher.digest.dkim import SIGNED_HEADERS, DkimSigner, aligned, load_signer
from publisher.digest.edition import (
    DigestOptions,
    LinkRewriter,
    RenderedEdition,
    RenderedVariant,
    render_edition,
    render_variant,
    untracked,
)
from publisher.digest.ids import message_id_for, message_ids
from publisher.digest.message import MessageTemplate
from publisher.digest.periods import first_window_start, frequency_of, is_period_key, period_key
from publisher.digest.personalise import Greeting
from publisher.digest.plan import (
    Audience,
    PlanOptions,
    Section,
    Variant,
    articles_for,
    choice_variant,
    full_variant,
    language_of_variant,
    ledger_variant,
    plan_audience,
    select_articles,
)
from publisher.digest.render import EmailRenderer

__all__ = [
    "SIGNED_HEADERS",
    "Audience",
    "DigestOptions",
    "DkimSigner",
    "EmailRenderer",
    "Greeting",
    "LinkRewriter",
    "MessageTemplate",
    "PlanOptions",
    "RenderedEdition",
    "RenderedVariant",
    "Section",
    "Variant",
    "aligned",
    "articles_for",
    "choice_variant",
    "first_window_start",
    "frequency_of",
    "full_variant",
    "is_period_key",
    "language_of_variant",
    "ledger_variant",
    "load_signer",
    "message_id_for",
    "message_ids",
    "period_key",
    "plan_audience",
    "render_edition",
    "render_variant",
    "select_articles",
    "untracked",
]
