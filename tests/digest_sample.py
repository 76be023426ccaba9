"""A fixed sample edition: for screenshots, the benchmark, golden files and the quality gates.

Deterministic on purpose (ids, times, texts), so its rendering can be compared byte for byte
and looked at in a browser without a database.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from publisher.digest.edition import DigestOptions
from publisher.digest.ids import message_id_for
from publisher.digest.plan import PlanOptions
from publisher.types import Article, Category, Recipient

SAMPLE_KEY = "daily/2026-11-27"
SAMPLE_ISSUED = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
SAMPLE_SITE = "https://news.example.org"

_CATEGORIES = (
    Category("local", "Local"),
    Category("politics", "Politics"),
    Category("environment", "Environment"),
    Category("sport", "Sport"),
    Category("culture", "Culture"),
)

_STORIES = (
    (
        "Mill Lane footbridge reopens after a year of repairs",
        "The footbridge over the Mill Lane weir is open again, with a wider deck, new "
        "lighting and a ramp that makes it usable with a pushchair or a wheelchair.",
    ),
    (
        "Council cuts the parks and recreation budget by 8 per cent",
        "Councillors approved the cut by 23 votes to 19 after a four-hour debate; the "
        "paddling pool at Hollins Park will open for two months instead of three.",
    ),
    (
        "Heron count at the wetland reserve is the highest in a decade",
        "Volunteers counted 41 grey herons and, for the first time, a pair of little "
        "egrets nesting beside the reed beds on the reserve's northern edge.",
    ),
    (
        "Corner café becomes a co-operative owned by its regulars",
        "Two hundred and twelve customers bought a share each to keep the café open after "
        "its owners retired; the menu, they promise, stays exactly the same.",
    ),
    (
        "Rowing club takes three golds at the regional regatta",
        "The junior eight won by a length and a half in a headwind, the club's best result "
        "since it moved to the new boathouse below the railway bridge.",
    ),
    (
        "Lantern walk returns to the old town on Saturday",
        "Two thousand lanterns made in school workshops will light the route from the "
        "market hall to the castle gate; roads close from five o'clock.",
    ),
)


def sample_articles(count: int = 8, with_images: bool = True) -> tuple[Article, ...]:
    """``count`` articles, newest first, across five categories, some without image."""
    articles = []
    for i in range(count):
        title, summary = _STORIES[i % len(_STORIES)]
        if i >= len(_STORIES):
            title = f"{title} (part {i // len(_STORIES) + 1})"
        published = SAMPLE_ISSUED - timedelta(minutes=37 * (i + 1))
        slug = f"sample-story-{i + 1}"
        image = f"{SAMPLE_SITE}/media/{slug}.jpg" if with_images and i % 3 != 2 else None
        words = " ".join(["word"] * (180 + 120 * (i % 5)))
        articles.append(
            Article(
                id=i + 1,
                guid=f"urn:uuid:00000000-0000-4000-8000-{i + 1:012d}",
                slug=slug,
                url=f"{SAMPLE_SITE}/articles/{slug}",
                title=title,
                summary=summary if i % 4 != 3 else "",
                content_html=f"<p>{words}</p>",
                published_at=published,
                updated_at=published,
                categories=(_CATEGORIES[i % len(_CATEGORIES)],),
                image_url=image,
                image_alt=f"Photograph for: {title}" if image else None,
            )
        )
    return tuple(articles)


_URDU_CATEGORIES = (
    Category("local", "مقامی"),
    Category("politics", "سیاست"),
    Category("environment", "ماحولیات"),
)
_URDU_STORIES = (
    (
        "مل لین کا پیدل پل ایک سال کی مرمت کے بعد دوبارہ کھل گیا",
        "ویئر کے اوپر پیدل پل اب چوڑے راستے، نئی روشنیوں اور وہیل چیئر کے لیے ڈھلوان کے"
        " ساتھ کھلا ہے۔",
    ),
    (
        "کونسل نے پارکوں کا بجٹ 8 فیصد کم کر دیا",
        "چار گھنٹے کی بحث کے بعد کونسلروں نے 19 کے مقابلے میں 23 ووٹوں سے کٹوتی منظور کی۔",
    ),
    (
        "دلدلی محفوظ علاقے میں بگلوں کی تعداد دس سال میں سب سے زیادہ",
        "رضاکاروں نے 41 سرمئی بگلے گنے، اور پہلی بار سفید بگلوں کا ایک جوڑا بھی دیکھا گیا۔",
    ),
    (
        "کراچی پریس کلب میں Reuters اور BBC کے صحافیوں کی ورکشاپ",
        "تین روزہ ورکشاپ میں ڈیٹا جرنلزم اور تصدیق کے طریقے سکھائے گئے۔",
    ),
)


def urdu_sample_articles() -> tuple[Article, ...]:
    """Four Urdu articles (one with Latin names in its title) and three English ones,
    newest first, the English ones newer: an Urdu reader still gets the Urdu ones first."""
    english = [replace(a, language="en") for a in sample_articles(3)]
    urdu = []
    for i, (title, summary) in enumerate(_URDU_STORIES):
        published = SAMPLE_ISSUED - timedelta(minutes=200 + 41 * i)
        slug = f"urdu-story-{i + 1}"
        image = f"{SAMPLE_SITE}/media/{slug}.jpg" if i % 2 == 0 else None
        urdu.append(
            Article(
                id=100 + i,
                guid=f"urn:uuid:00000000-0000-4000-9000-{i + 1:012d}",
                slug=slug,
                url=f"{SAMPLE_SITE}/articles/{slug}",
                title=title,
                summary=summary,
                content_html="<p>" + " ".join(["لفظ"] * (200 + 90 * i)) + "</p>",
                published_at=published,
                updated_at=published,
                categories=(_URDU_CATEGORIES[i % len(_URDU_CATEGORIES)],),
                image_url=image,
                image_alt=f"تصویر: {title}" if image else None,
                language="ur",
            )
        )
    return (*english, *urdu)


def urdu_sample_options() -> DigestOptions:
    """The sample newsroom in Karachi, speaking Urdu (right to left)."""
    return replace(
        sample_options(),
        site_title="روزنامہ کراچی",
        from_name="روزنامہ کراچی",
        postal_address="روزنامہ کراچی، 12 شاہراہ فیصل، Karachi 75400، پاکستان",
        language="ur",
        timezone=ZoneInfo("Asia/Karachi"),
    )


def sample_options(max_articles: int = 25) -> DigestOptions:
    return DigestOptions(
        site_title="Example News",
        site_url=SAMPLE_SITE,
        from_address="digest@news.example.org",
        from_name="Example News",
        postal_address="Example News, 1 Market Street, Exampleton EX1 2AB, United Kingdom",
        timezone=ZoneInfo("Europe/London"),
        sender_id="examplenews",
        plan=PlanOptions(
            max_articles=max_articles, category_order=("local", "politics", "environment")
        ),
    )


def sample_recipient(subscriber_id: int = 42, name: str = "Ann Reader") -> Recipient:
    token = f"sample-token-{subscriber_id}"
    return Recipient(
        subscriber_id=subscriber_id,
        email=f"reader{subscriber_id}@example.com",
        name=name,
        message_id=message_id_for(SAMPLE_KEY, subscriber_id, "news.example.org"),
        unsubscribe_url=f"{SAMPLE_SITE}/unsubscribe/{token}",
        unsubscribe_mailto=f"mailto:unsubscribe@news.example.org?subject={token}",
        preferences_url=f"{SAMPLE_SITE}/preferences/{token}",
    )
