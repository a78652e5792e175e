"""Shared set-up for digest tests: multilingual articles on the local news site, sources files."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import Article, NewsSite, write_sources

from newswatch.config import Config, load_config
from newswatch.pipeline import ingest
from storage.db import open_database

SENDER = "newswatch alerts <alerts@example.org>"
RECIPIENTS = ["Analysts desk <analysts@example.org>", "ops@example.org"]


def paragraphs(*sentences: str) -> str:
    """An article body: each sentence repeated into a paragraph of realistic length."""
    return "\n".join(" ".join([sentence] * 4) for sentence in sentences)


CSTO_EN = Article(
    "csto-summit", "Armenia skips the CSTO summit again",
    paragraphs("Yerevan did not send a delegation to the CSTO summit in Minsk this week.",
               "Officials said the Collective Security Treaty Organization failed Armenia in 2022."),
)
PEACE_RU = Article(
    "peace-ru", "Ереван и Баку согласовали текст мирного договора",
    paragraphs("Армения и Азербайджан завершили переговоры и согласовали текст: мирный договор готов к подписанию.",
               "Стороны сообщили, что мирный договор будет подписан после изменения конституции."),
)
CSTO_HY = Article(
    "csto-hy", "Հայաստանը սառեցրել է մասնակցությունը ՀԱՊԿ-ին",
    paragraphs("Վարչապետը հայտարարեց, որ Հայաստանը սառեցրել է իր մասնակցությունը ՀԱՊԿ կառույցներին։",
               "Փորձագետները կարծում են, որ ՀԱՊԿ անդամակցությունը այլևս իմաստ չունի։"),
)
PEACE_KA = Article(
    "peace-ka", "სომხეთი და აზერბაიჯანი სამშვიდობო ხელშეკრულებას უახლოვდებიან",
    paragraphs("ერევანი და ბაქო აცხადებენ, რომ სამშვიდობო ხელშეკრულება თითქმის მზადაა.",
               "ექსპერტების აზრით, სამშვიდობო ხელშეკრულება რეგიონში სტაბილურობას მოიტანს."),
)
WINE = Article(
    "wine", "Tbilisi wine festival draws record crowds",
    paragraphs("Thousands of visitors gathered in Tbilisi's old town for the annual wine festival."),
)


def mail_settings(**overrides) -> dict:
    """A ``settings.mail`` section (outbox transport unless overridden)."""
    return {"sender": SENDER, "transport": "outbox", **overrides}


def digest_entry(**overrides) -> dict:
    """One digest subscription for all three topics."""
    return {
        "name": "brief",
        "title": "Caucasus brief",
        "recipients": RECIPIENTS,
        "topics": ["peace accord", "CSTO", "peacekeeping mandate"],
        "schedule": {"daily": "07:30", "timezone": "Asia/Yerevan"},
        **overrides,
    }


def digest_sources(tmp_path: Path, feeds: list[dict], digests: list[dict], mail: dict, **settings) -> Path:
    """A sources.yaml with the repo's topics, ``feeds``, ``settings`` (with ``mail``) and ``digests``."""
    path = write_sources(tmp_path, feeds, **settings)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["settings"]["mail"] = mail
    data["digests"] = digests
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class Newsroom:
    """Feeds on the local news site per language, and ingesting them into the test database."""

    LANGUAGES = {"en": "Daily", "ru": "Novosti", "hy": "Lraber", "ka": "Akhali"}

    def __init__(self, site: NewsSite, tmp_path: Path):
        self.site = site
        self.tmp_path = tmp_path
        self.articles: dict[str, list[Article]] = {language: [] for language in self.LANGUAGES}

    @classmethod
    def with_samples(cls, site: NewsSite, tmp_path: Path) -> Newsroom:
        """A newsroom publishing the multilingual sample articles (and one unrelated)."""
        newsroom = cls(site, tmp_path)
        newsroom.publish("en", CSTO_EN, WINE)
        newsroom.publish("ru", PEACE_RU)
        newsroom.publish("hy", CSTO_HY)
        newsroom.publish("ka", PEACE_KA)
        return newsroom

    def feeds(self) -> list[dict]:
        """Feed entries for sources.yaml (one per language)."""
        return [
            {"name": name, "url": f"{self.site.url}/{language}.xml", "language": language}
            for language, name in self.LANGUAGES.items()
        ]

    def publish(self, language: str, *articles: Article) -> None:
        """Add articles to a language's feed."""
        self.articles[language].extend(articles)
        self.site.add_feed(f"/{language}.xml", self.articles[language])

    def config(self, digests: list[dict], mail: dict | None = None, **settings) -> Config:
        """Write sources.yaml (``settings`` as for ``conftest.write_sources``) and load it."""
        for language in self.LANGUAGES:
            self.site.add_feed(f"/{language}.xml", self.articles[language])
        return load_config(digest_sources(self.tmp_path, self.feeds(), digests, mail or mail_settings(), **settings))

    @staticmethod
    def ingest(config: Config) -> None:
        """Run the real ingest pipeline once."""
        with open_database(config.settings.database) as db:
            ingest(config, db)
