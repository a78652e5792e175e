"""A hostile or careless sources.yaml: every failure is a ``file:line`` message and exit 2,
found in well under a second; never a traceback, never a run that does not finish."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import write_sources
from typer.testing import CliRunner

from newswatch.cli import app

FEED = "  - {name: A, url: 'https://a.example/feed', language: en}\n"
TOPIC = "topics:\n  - name: CSTO\n    terms: {en: [CSTO]}\n"
BASE = "feeds:\n" + FEED + TOPIC


def validate(tmp_path: Path, content: str | bytes) -> tuple[int, str, float]:
    """(exit code, output with the path as F, CPU seconds) of ``newswatch sources validate``."""
    path = tmp_path / "sources.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    started = time.process_time()  # CPU time: a busy machine stretches wall time, not this
    result = CliRunner().invoke(app, ["sources", "validate", "--sources", str(path)], env={"COLUMNS": "300"})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output.replace(str(path), "F"), time.process_time() - started


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + BASE


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # 9**9 (387 million) values once expanded
        (alias_bomb(), "F:6: the document expands to more than 100,000 values"),
        ("x: &loop [1, *loop]\n" + BASE, "F:1: recursive alias"),
        ("x: &m {a: *m}\n" + BASE, "F:1: recursive alias"),
        ("x: !!python/object/apply:os.system ['echo pwned']\n" + BASE,
         "F:1: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
        ("x: !!python/name:os.system\n" + BASE, "F:1: tag 'tag:yaml.org,2002:python/name:os.system' is not allowed"),
        ("x: !custom 3\n" + BASE, "F:1: tag '!custom' is not allowed"),
        (BASE + "# a comment\x00 with NUL\n", "F:6: character '\\x00' is not allowed in YAML"),
        (BASE.replace("CSTO]", "CS\x07TO]"), "F:5: character '\\x07' is not allowed in YAML"),
        (b"feeds: []\nx: '\xff\xfe'\n", "F:2: not UTF-8 text"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n" + BASE, "F:1: nested deeper than 32 levels"),
        ("x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 60)) + BASE, "nested deeper than 32 levels"),
        # nesting through aliases: each level only one deep in the file
        ("".join(f"a{i}: &a{i} [{f'*a{i - 1}' if i else 0}]\n" for i in range(40)) + BASE,
         "nested deeper than 32 levels (through aliases)"),
        ("? [a, b]\n: 1\n" + BASE, "F:1: found unhashable key"),
        (BASE + "# padding\n" * 110_000, "F: the file is larger than 1,000,000 bytes"),
    ],
    ids=["alias-bomb", "recursive-list", "recursive-map", "python-apply", "python-name", "local-tag", "nul",
         "bell", "not-utf8", "deep-flow", "deep-block", "deep-aliases", "complex-key", "huge"],
)
def test_hostile_yaml_is_refused_quickly_with_file_and_line(tmp_path, content, expected):
    code, output, seconds = validate(tmp_path, content)
    assert code == 2 and "Invalid configuration" in output and "Traceback" not in output
    assert expected in output
    # the messages above say each limit stopped the parser; this catches a parse that runs away
    # (the alias bomb took minutes of CPU) without timing a busy machine: well under 1 s idle
    assert seconds < 30


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("NOT " * 900 + "CSTO", "nested deeper than 24 levels"),
        (" NEAR/1 ".join(["CSTO"] * 100), "nested deeper than 24 levels"),
        ("(CSTO AND " * 300 + "treaty" + ")" * 300, "nested deeper than 24 levels"),
        ("title:" * 500 + "CSTO", "nested deeper than 24 levels"),
        (" OR ".join(f"w{i}" for i in range(1000)), "characters long, more than 4000"),
    ],
    ids=["not-chain", "near-chain", "nested-and", "field-chain", "long"],
)
def test_deep_or_chained_queries_are_a_clear_message(tmp_path, query, expected):
    content = "feeds:\n" + FEED + f"topics:\n  - name: Deep\n    query: '{query}'\n"
    code, output, _ = validate(tmp_path, content)
    assert code == 2 and "Traceback" not in output
    assert "F:5: topics[0].query (name: Deep): Value error, topic 'Deep': query error at line 1" in output
    assert expected in output


@pytest.mark.parametrize(
    ("second", "shown"),
    [
        ("A ", "duplicate name 'A ', which looks the same as 'A' (first used on line 2)"),
        (" a", "duplicate name ' a', which looks the same as 'A' (first used on line 2)"),
        ("\uff21", "duplicate name '\uff21', which looks the same as 'A' (first used on line 2)"),  # fullwidth A
        ("A", "duplicate name 'A' (first used on line 2)"),
    ],
)
def test_look_alike_feed_names_are_duplicates(tmp_path, second, shown):
    content = "feeds:\n" + FEED + f"  - {{name: '{second}', url: 'https://b.example/feed', language: en}}\n" + TOPIC
    code, output, _ = validate(tmp_path, content)
    assert code == 2 and f"F:3: feeds[1].name: {shown}" in output


def test_look_alike_topic_names_are_duplicates(tmp_path):
    code, output, _ = validate(tmp_path, BASE + "  - name: 'csto '\n    terms: {en: [NATO]}\n")
    assert code == 2 and "F:6: topics[1].name: duplicate name 'csto ', which looks the same as 'CSTO'" in output


@pytest.mark.parametrize("name", ["Daily\u200b", "Da\u202eily", "Daily\u2028news"])
def test_invisible_characters_in_names_are_refused(tmp_path, name):
    code, output, _ = validate(tmp_path, BASE.replace("name: A,", f"name: \"{name.encode('unicode_escape').decode()}\","))
    assert code == 2 and "F:2: feeds[0].name (name: " in output and "control or invisible character" in output


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("http", "concurrency", "1000000000"),
        ("http", "max_bytes", "1e15"),
        ("http", "timeout", ".inf"),
        ("http", "total_timeout", ".nan"),
        ("http", "per_host_concurrency", "100000"),
        ("http", "max_redirects", "1000"),
        ("http", "retries", "1000000"),
        ("http", "retry_after_max", "1e12"),
        ("extract", "batch_size", "10000000"),
        ("extract", "workers", "100000"),
        ("extract", "max_attempts", "1000000"),
        ("health", "dead_recheck_hours", "1e9"),
        ("report", "window_hours", "1e9"),
        ("clusters", "window_days", "100000"),
        ("runner", "dask_workers", "100000"),
    ],
)
def test_every_number_has_an_upper_bound(tmp_path, section, key, value):
    content = f"settings:\n  {section}:\n    {key}: {value}\n" + BASE
    code, output, _ = validate(tmp_path, content)
    assert code == 2 and f"F:3: settings.{section}.{key}: Input should be" in output, output


def test_report_hours_out_of_bounds_is_refused_and_writes_nothing(tmp_path):
    sources = write_sources(tmp_path, [{"name": "A", "url": "https://a.example/feed", "language": "en"}])
    for hours in ("-5", "0", "1e9", "nan"):
        result = CliRunner().invoke(app, ["report", "--hours", hours, "--sources", str(sources)],
                                    env={"COLUMNS": "300"})
        assert result.exit_code == 2, (hours, result.output)
        assert "Invalid value for '--hours': hours must be more than 0 and at most 8784" in result.output
    assert not (tmp_path / "reports").exists() and not (tmp_path / "data").exists()
