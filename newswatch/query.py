"""Parser for the topic query language (reference: docs/queries.md).

``parse_query`` turns a query string into a small immutable syntax tree; syntax errors
raise :class:`QuerySyntaxError` carrying the line and column of the offending
character. The tree is analysed and evaluated by :mod:`newswatch.match`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from newswatch.errors import QuerySyntaxError
from newswatch.text import words

FIELDS = ("title", "body", "lede")

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND? not_expr)*
?not_expr: _NOT not_expr -> not_
         | near_expr
?near_expr: unary ((NEAR | NOTNEAR) unary)*
?unary: ATLEAST unary -> atleast
      | FIELD unary -> field
      | CASE atom -> case
      | atom BOOST -> boost
      | atom
?atom: PHRASE -> phrase
     | WORD -> word
     | ENTITY -> entity
     | LANG -> lang
     | "(" or_expr ")"

_OR.3: /OR(?=[\s()"]|$)/
_AND.3: /AND(?=[\s()"]|$)/
_NOT.3: /NOT(?=[\s()"]|$)/
NEAR.3: /NEAR\/\d+(?=[\s()"]|$)/
NOTNEAR.4: /NOT\s+NEAR\/\d+(?=[\s()"]|$)/
CASE.3: /case:/
ATLEAST.3: /ATLEAST\/\d+(?=[\s()"]|$)/
FIELD.3: /(title|body|lede):/
LANG.3: /lang:[a-z]{2}(?=[\s()"]|$)/
ENTITY.2: /@[^\W\d][\w-]*/
PHRASE.2: /"[^"]*"/
BOOST.3: /\^\d+(\.\d+)?/
WORD: /[^\s()"^]+/

COMMENT.5: /#[^\n]*/

%import common.WS
%ignore WS
%ignore COMMENT
"""

_LOWER_OPERATORS = {"and", "or", "not"}
_OPERATOR = re.compile(r"(?:NEAR|ATLEAST)/\d+|AND|OR|NOT")  # lexed as a word only where misplaced
# A bare word that looks like an operator or a field prefix gone wrong ("NEAR/x", "titel:").
_MALFORMED_OPERATOR = re.compile(r"^(?:NEAR|NOTNEAR|ATLEAST)(?:/|$)|^[A-Za-z]+:")


def _check_word(token: Token) -> Token:
    """Reject, while lexing, bare words that are operators out of place or misspelt."""
    value = token.value
    if _OPERATOR.fullmatch(value):
        raise QuerySyntaxError(f"misplaced {value}: AND, OR and NEAR/n go between two terms, "
                               "NOT and ATLEAST/n before one", token.line, token.column)
    if value.lower() in _LOWER_OPERATORS:
        raise QuerySyntaxError(f"operators are upper case: write {value.upper()}, "
                               f"or quote \"{value}\" to search for the word", token.line, token.column)
    if _MALFORMED_OPERATOR.match(value):
        raise QuerySyntaxError(f"malformed operator {value!r}: write NEAR/10, NOT NEAR/10, ATLEAST/2, title:, lede:, "
                               "body:, case: or lang:xx (a two-letter code)", token.line, token.column)
    return token


_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False, lexer_callbacks={"WORD": _check_word})


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a term: matched on its stem, or as a prefix when ``prefix`` is set."""

    text: str
    prefix: bool


@dataclass(frozen=True, slots=True)
class Term:
    """A word or quoted phrase; ``source`` is the term as written in the query.

    ``exact_case`` (``case:CSTO``): the words must be written in the text with the same
    capitals as in ``source`` (accents and inflection are still ignored by the index)."""

    words: tuple[Word, ...]
    source: str
    line: int
    column: int
    exact_case: bool = False


@dataclass(frozen=True, slots=True)
class EntityRef:
    """``@name``: any alias of a configured entity."""

    name: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Lang:
    """``lang:xx``: true when the article's detected language is ``code``."""

    code: str


@dataclass(frozen=True, slots=True)
class Near:
    """``left NEAR/n right``: both within ``distance`` words of each other, any order.

    With ``exclude`` (``left NOT NEAR/n right``): the occurrences of ``left`` that have no
    ``right`` within ``distance`` words (an excluded context, per occurrence)."""

    left: Node
    right: Node
    distance: int
    line: int
    column: int
    exclude: bool = False


@dataclass(frozen=True, slots=True)
class AtLeast:
    """``ATLEAST/n operand``: the operand occurs at least ``count`` times."""

    count: int
    operand: Node
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Field:
    """``title:operand`` / ``body:operand``: operand evaluated in one field only;
    ``lede:operand``: only where it occurs in the opening words of the body (its lede)."""

    field: str
    operand: Node
    line: int = 1
    column: int = 1


@dataclass(frozen=True, slots=True)
class Boost:
    """``operand^factor``: multiplies the operand's contribution to the score (``^0``: filter only)."""

    operand: Node
    factor: float


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


Node = Term | EntityRef | Lang | Near | AtLeast | Field | Boost | And | Or | Not


def parse_term(text: str, line: int = 1, column: int = 1) -> Term:
    """Build a term from a word or phrase; a word ending in ``*`` is a prefix wildcard."""
    parts = text.split()
    if not parts:
        raise QuerySyntaxError("empty term", line, column)
    out: list[Word] = []
    for part in parts:
        prefix = part.endswith("*")
        stem = part.rstrip("*") if prefix else part
        pieces = words(stem)
        if not pieces or (prefix and not stem[-1:].isalnum()) or "*" in stem:
            raise QuerySyntaxError(f"{part!r} is not a word (use letters or digits, '*' only at the end)",
                                   line, column)
        if prefix and len(pieces[-1]) < 2:
            raise QuerySyntaxError(f"{part!r}: a wildcard needs at least 2 letters before '*'", line, column)
        # Punctuation inside a word ("cease-fire", "KTMT-nin") splits it, as in articles.
        out.extend(Word(p, prefix and i == len(pieces) - 1) for i, p in enumerate(pieces))
    return Term(tuple(out), text, line, column)


CASE_PREFIX = "case:"


def parse_listed_term(text: str) -> Term:
    """A phrase of a topic's ``terms`` or an entity's ``aliases``; ``case:`` before it asks for
    the same capitals (``case:CSTO``), as in a query."""
    if text.startswith(CASE_PREFIX):
        term = parse_term(text[len(CASE_PREFIX):])
        return Term(term.words, term.source, term.line, term.column, exact_case=True)
    return parse_term(text)


def _operator_count(token: Token) -> int:
    return int(token.value.split("/", 1)[1])


class _Build(Transformer):
    """Turn the lark parse tree into :data:`Node` objects."""

    def word(self, children):
        (token,) = children
        return parse_term(token.value, token.line, token.column)

    def phrase(self, children):
        (token,) = children
        return parse_term(token.value[1:-1], token.line, token.column)

    def entity(self, children):
        (token,) = children
        return EntityRef(token.value[1:], token.line, token.column)

    def lang(self, children):
        (token,) = children
        return Lang(token.value.split(":", 1)[1])

    def not_(self, children):
        (operand,) = children
        return Not(operand)

    def and_expr(self, children):
        return And(tuple(children))

    def or_expr(self, children):
        return Or(tuple(children))

    def near_expr(self, children):
        node = children[0]
        for op, right in zip(children[1::2], children[2::2], strict=True):
            node = Near(node, right, _operator_count(op), op.line, op.column, exclude=op.type == "NOTNEAR")
        return node

    def case(self, children):
        op, operand = children
        if not isinstance(operand, Term):
            raise QuerySyntaxError("case: goes before a word or a quoted phrase (case:CSTO, case:\"US Army\")",
                                   op.line, op.column)
        return Term(operand.words, operand.source, operand.line, operand.column, exact_case=True)

    def atleast(self, children):
        op, operand = children
        count = _operator_count(op)
        if count < 1:
            raise QuerySyntaxError("ATLEAST needs a count of 1 or more", op.line, op.column)
        return AtLeast(count, operand, op.line, op.column)

    def field(self, children):
        op, operand = children
        return Field(op.value[:-1], operand, op.line, op.column)

    def boost(self, children):
        operand, op = children
        return Boost(operand, float(op.value[1:]))


def _at_end(err: UnexpectedInput) -> bool:
    return isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END")


def _describe(err: UnexpectedInput) -> str:
    if _at_end(err):
        return "query ends too early (missing term or ')')"
    if isinstance(err, UnexpectedToken):
        return f"unexpected {err.token.value!r}"
    if isinstance(err, UnexpectedCharacters):
        return f"unexpected character {err.char!r}"
    return str(err)


def is_positional(node: Node) -> bool:
    """True for nodes that have word positions (usable with NEAR and ATLEAST)."""
    if isinstance(node, Or):
        return all(is_positional(op) for op in node.operands)
    if isinstance(node, Field | Boost):
        return is_positional(node.operand)
    return isinstance(node, Term | EntityRef | Near | AtLeast)


def needs_term(node: Node) -> bool:
    """True when the query can only match an article containing at least one of its terms."""
    if isinstance(node, And):
        return any(needs_term(op) for op in node.operands)
    if isinstance(node, Or):
        return all(needs_term(op) for op in node.operands)
    if isinstance(node, Field | Boost):
        return needs_term(node.operand)
    return not isinstance(node, Not | Lang)


def _check_positions(node: Node) -> None:
    """Reject NEAR/ATLEAST over boolean sub-expressions (AND, NOT, lang:)."""
    if isinstance(node, Near | AtLeast):
        operands = (node.left, node.right) if isinstance(node, Near) else (node.operand,)
        if not all(is_positional(op) for op in operands):
            name = ("NOT NEAR" if node.exclude else "NEAR") if isinstance(node, Near) else "ATLEAST"
            raise QuerySyntaxError(f"{name} works on terms, phrases, @entities and OR-groups of them, "
                                   "not on AND, NOT or lang:", node.line, node.column)
    if isinstance(node, Field) and node.field == "lede" and not is_positional(node.operand):
        raise QuerySyntaxError("lede: works on terms, phrases, @entities, OR-groups of them and NEAR, "
                               "not on AND, NOT or lang: (write lede:(a NEAR/10 b))", node.line, node.column)
    for child in _children(node):
        _check_positions(child)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, And | Or):
        return node.operands
    if isinstance(node, Near):
        return (node.left, node.right)
    if isinstance(node, AtLeast | Field | Boost | Not):
        return (node.operand,)
    return ()


MAX_QUERY_LENGTH = 4000  # characters
MAX_QUERY_DEPTH = 24  # nested parentheses, operators on operators (NOT NOT ..., a NEAR/1 b NEAR/1 c ...)


def _check_depth(tree: Tree) -> None:
    """Refuse a parse tree nested deeper than :data:`MAX_QUERY_DEPTH` (walked without recursion),
    pointing at the first token of the part that is too deep. A chain of NEAR operators counts
    once per NEAR, as it becomes one nested pair per NEAR."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if node.data == "near_expr":
            depth += len(node.children) // 2 - 1
        if depth > MAX_QUERY_DEPTH:
            token = next(node.scan_values(lambda value: isinstance(value, Token)))
            raise QuerySyntaxError(f"the query is nested deeper than {MAX_QUERY_DEPTH} levels (parentheses and"
                                   " operators on operators); split it or simplify it", token.line, token.column)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


@lru_cache(maxsize=1024)
def parse_query(text: str) -> Node:
    """Parse and check a query string, or raise :class:`QuerySyntaxError`.

    A query is parsed once: validating the configuration, checking its ``@entity`` and
    ``@terms`` references and compiling the matcher all ask for the same (immutable) tree.
    Queries longer than :data:`MAX_QUERY_LENGTH` characters or nested deeper than
    :data:`MAX_QUERY_DEPTH` levels are refused, so that no query costs unbounded time or stack.
    """
    if not text.strip():
        raise QuerySyntaxError("empty query", 1, 1)
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"the query is {len(text)} characters long, more than {MAX_QUERY_LENGTH}", 1, 1)
    try:
        tree = _PARSER.parse(text)
        _check_depth(tree)
        node = _Build().transform(tree)
    except UnexpectedInput as err:
        line, column = err.line, err.column
        if _at_end(err):  # point just past the last non-blank character
            lines = text.rstrip().split("\n")
            line, column = len(lines), len(lines[-1]) + 1
        raise QuerySyntaxError(_describe(err), line, column) from None
    except VisitError as err:
        if isinstance(err.orig_exc, QuerySyntaxError):
            raise err.orig_exc from None
        raise
    _check_positions(node)
    if not needs_term(node):
        raise QuerySyntaxError("the query would match articles that contain none of its terms "
                               "(NOT and lang: only narrow a match)", 1, 1)
    return node


def first_line(node: Node) -> int:
    """The query line of the first term, entity or operator of ``node`` (1 when it has none)."""
    own = [node.line] if isinstance(node, Term | EntityRef | Near | AtLeast | Field) else []
    return min([*own, *(first_line(child) for child in _children(node))], default=1)


def entity_refs(node: Node) -> list[EntityRef]:
    """All ``@entity`` references in a query, in order."""
    if isinstance(node, EntityRef):
        return [node]
    return [ref for child in _children(node) for ref in entity_refs(child)]
