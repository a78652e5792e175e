"""Print the counts of a held-out relevance set (per language, topic, class, outlet, story) as
Markdown.

Run: uv run python tests/heldout/count_relevance.py [relevance.yaml|relevance2.yaml|relevance3.yaml]
"""

import sys
from collections import Counter
from pathlib import Path

import yaml

LANGS = ["en", "ru", "hy", "az", "ka"]


def table(title: str, rows: dict[str, Counter]) -> None:
    """Print one Markdown table: a row per key, a column per language, plus the total."""
    print(f"\n| {title} | " + " | ".join(LANGS) + " | total |")
    print("| --- " * (len(LANGS) + 2) + "|")
    for key in sorted(rows):
        counts = rows[key]
        print(f"| {key} | " + " | ".join(str(counts[lang]) for lang in LANGS)
              + f" | {sum(counts.values())} |")


def main() -> None:
    """Print all tables of the set named on the command line (relevance.yaml by default)."""
    name = sys.argv[1] if len(sys.argv) > 1 else "relevance.yaml"
    items = yaml.safe_load((Path(__file__).parent / name).read_text(encoding="utf-8"))
    by = lambda key: {  # noqa: E731
        value: Counter(i["lang"] for i in items if key(i) == value) for value in {key(i) for i in items}
    }
    table("all", {"articles": Counter(i["lang"] for i in items)})
    topics = {t: Counter(i["lang"] for i in items if t in i["topics"])
              for t in {t for i in items for t in i["topics"]}}
    topics["(none: negative)"] = Counter(i["lang"] for i in items if not i["topics"])
    table("topic", topics)
    table("class", by(lambda i: i["class"]))
    table("outlet", by(lambda i: i["outlet"]))
    dates = by(lambda i: ("feed+page" if i["feed_published"] and i["page_published"] else
                          "feed only" if i["feed_published"] else
                          "page only" if i["page_published"] else "no date"))
    table("dates", dates)
    sizes = Counter(Counter(i["story"] for i in items).values())
    print("\n| articles per story | stories |\n| --- | --- |")
    for size in sorted(sizes):
        print(f"| {size} | {sizes[size]} |")
    words = sorted(len(i["body"].split()) for i in items)
    print(f"\nbody words: min {words[0]}, median {words[len(words) // 2]}, max {words[-1]}")


if __name__ == "__main__":
    main()
