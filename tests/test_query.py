"""Query language parser: structure, errors with line/column, config-time validation."""

from __future__ import annotations

import pytest
from conftest import REPO
from pydantic import ValidationError

from newswatch.config import Entity, Topic, load_config
from newswatch.errors import ConfigError, QuerySyntaxError
from newswatch.match import compile_topics
from newswatch.query import (
    And,
    AtLeast,
    Boost,
    EntityRef,
    Field,
    Lang,
    Near,
    Not,
    Or,
    Term,
    Word,
    parse_query,
    parse_term,
)


def words(node: Term) -> list[tuple[str, bool]]:
    return [(w.text, w.prefix) for w in node.words]


def test_precedence_not_and_or():
    node = parse_query('a OR b AND NOT c')
    assert isinstance(node, Or)
    left, right = node.operands
    assert isinstance(left, Term) and left.source == "a"
    assert isinstance(right, And)
    assert isinstance(right.operands[1], Not)


def test_juxtaposition_is_and_and_parentheses_group():
    node = parse_query('(a OR b) c')
    assert isinstance(node, And)
    assert isinstance(node.operands[0], Or)


def test_phrase_wildcard_and_punctuation_split_like_articles():
    node = parse_query('"sülh müqavilə*"')
    assert words(node) == [("sülh", False), ("müqavilə", True)]
    assert words(parse_query("cease-fire")) == [("cease", False), ("fire", False)]
    assert words(parse_query("peacekeep*")) == [("peacekeep", True)]


def test_near_atleast_field_lang_entity_boost():
    node = parse_query('title:@csto NEAR/5 (ОДКБ OR ՀԱՊԿ) AND ATLEAST/3 CSTO AND lang:ru AND (x)^0.5')
    near, atleast, lang, boost = node.operands
    assert isinstance(near, Near) and near.distance == 5 and near.column == 13
    assert isinstance(near.left, Field) and near.left.field == "title"
    assert isinstance(near.left.operand, EntityRef) and near.left.operand.name == "csto"
    assert isinstance(atleast, AtLeast) and atleast.count == 3
    assert lang == Lang("ru")
    assert isinstance(boost, Boost) and boost.factor == 0.5


def test_keywords_need_a_word_boundary():
    node = parse_query("ANDROID NOTE ORBIT")
    assert [t.source for t in node.operands] == ["ANDROID", "NOTE", "ORBIT"]


@pytest.mark.parametrize(
    ("query", "line", "column", "reason"),
    [
        ("peace OR", 1, 9, "ends too early"),
        ("(peace OR accord", 1, 17, "ends too early"),
        ("peace)", 1, 6, "unexpected ')'"),
        ("peace or accord", 1, 7, "operators are upper case"),
        ("a NEAR/x b", 1, 3, "malformed operator"),
        ("titel:peace", 1, 1, "malformed operator"),
        ("NEAR/3 b", 1, 1, "misplaced NEAR/3"),
        ("a AND (OR b)", 1, 8, "misplaced OR"),
        ("AND a", 1, 1, "misplaced AND"),
        ('"peace accord', 1, 1, "unexpected character"),
        ("(a AND b) NEAR/3 c", 1, 11, "NEAR works on terms"),
        ("ATLEAST/2 (a AND b)", 1, 1, "ATLEAST works on terms"),
        ("ATLEAST/0 a", 1, 1, "count of 1 or more"),
        ("NOT peace", 1, 1, "none of its terms"),
        ("lang:ru", 1, 1, "none of its terms"),
        ("p*", 1, 1, "at least 2 letters"),
        ("pe*ce", 1, 1, "not a word"),
        ('""', 1, 1, "empty term"),
        ("   ", 1, 1, "empty query"),
        ("peace\n  AND (accord OR", 2, 17, "ends too early"),
        ("case:@csto AND x", 1, 1, "case: goes before a word or a quoted phrase"),
        ("a AND case:(b OR c)", 1, 7, "case: goes before a word"),
        ("a NOT NEAR/3 (b AND c)", 1, 3, "NOT NEAR works on terms"),
        ("a NOTNEAR/3 b", 1, 3, "malformed operator"),
        ("peace AND lede:(a AND b)", 1, 11, "lede: works on terms"),
        ("peace AND\n  lede:(NOT b)", 2, 3, "lede: works on terms"),
        ("lead:peace", 1, 1, "malformed operator"),
    ],
)
def test_syntax_errors_report_line_and_column(query, line, column, reason):
    with pytest.raises(QuerySyntaxError) as err:
        parse_query(query)
    assert (err.value.line, err.value.column) == (line, column)
    assert reason in err.value.reason


def test_parse_term_builds_words():
    assert parse_term("Collective Security Treaty Organi*").words[-1] == Word("Organi", True)


def test_topic_query_error_names_topic_and_column_at_config_load():
    with pytest.raises(ValidationError) as err:
        Topic(name="CSTO", query="@csto AND (Armenia OR")
    message = str(err.value)
    assert "topic 'CSTO'" in message
    assert "line 1, column 22" in message


def test_topic_term_error_names_topic_and_language():
    with pytest.raises(ValidationError, match=r"topic 'peace': term 'x\*y' \(en\)"):
        Topic(name="peace", terms={"en": ["x*y"]})


def test_topic_needs_terms_or_query():
    with pytest.raises(ValidationError, match="needs at least one term or a query"):
        Topic(name="empty")


def test_query_and_terms_meet_through_at_terms():
    assert Topic(name="t", terms={"en": ["CSTO"]}, query="title:@terms")
    with pytest.raises(ValidationError, match="topic 't': the query must use @terms"):
        Topic(name="t", terms={"en": ["CSTO"]}, query="title:CSTO")
    with pytest.raises(ValidationError, match="topic 't': query error at line 1, column 7: @terms used but"):
        Topic(name="t", query="CSTO  @terms")


SOURCES = """feeds:
  - {name: A, url: 'https://a.example/feed', language: en}
entities:
  csto: {name: CSTO, aliases: [CSTO, ОДКБ]}
topics:
  - name: security
    query: |
      @csto AND
        (@nato OR Armenia)
"""


def test_unknown_entity_is_reported_at_config_load(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "topic 'security': query error at line 2, column 4: unknown entity @nato (defined: @csto)" in str(err.value)
    path.write_text(SOURCES.replace("@nato", "@csto"), encoding="utf-8")
    assert load_config(path).entities["csto"].aliases == ["CSTO", "ОДКБ"]


def test_query_syntax_error_is_reported_at_config_load_with_file_line(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES.replace("(@nato OR Armenia)", "(@csto OR Armenia"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:7: topics[0].query (name: security): Value error, topic 'security': " \
           "query error at line 2, column 20: query ends too early" in str(err.value)


def test_lede_error_is_reported_at_config_load_with_file_line(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES.replace("(@nato OR Armenia)", "lede:(@nato AND Armenia)"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:7: topics[0].query (name: security)" in str(err.value)
    assert "query error at line 2, column 3: lede: works on terms" in str(err.value)


def test_entity_ids_are_query_names(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES.replace("  csto:", "  terms:"), encoding="utf-8")
    with pytest.raises(ConfigError, match="entity id 'terms'"):
        load_config(path)


def test_topic_rejects_unknown_fields():
    with pytest.raises(ValidationError):
        Topic(name="t", query="a", minscore=2)


def test_entity_aliases_are_validated():
    with pytest.raises(ValidationError, match="alias 'a\\*b'"):
        Entity(name="x", aliases=["a*b"])


def test_each_query_is_parsed_once_from_validation_to_matching():
    parse_query.cache_clear()
    config = load_config(REPO / "sources.yaml")
    compile_topics(config.topics, config.entities, semantic=False)
    queries = {topic.query for topic in config.topics if topic.query}
    assert queries and parse_query.cache_info().misses == len(queries)
