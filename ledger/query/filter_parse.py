"""Parse search filters and sort keys into a small AST. Pure Python: no pyarrow here.

The grammar is MLflow's ``search_runs`` filter (``mlflow/utils/search_utils.py``, ``SearchUtils``)
so that every filter MLflow accepts means the same here, plus ``OR``, ``NOT`` and parentheses::

    filter     := or_expr
    or_expr    := and_expr ("OR" and_expr)*          -- precedence: NOT > AND > OR
    and_expr   := not_expr ("AND" not_expr)*
    not_expr   := "NOT" not_expr | "(" or_expr ")" | comparison
    comparison := key ( ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                      | ["NOT"] ("LIKE" | "ILIKE") string
                      | ["NOT"] "IN" "(" string ("," string)* ")"
                      | "IS" ["NOT"] "NULL" )
    key        := prefix "." name | attribute        -- metrics.acc, params.`learning rate`

Prefixes (as in MLflow, case-sensitive): ``metric``/``metrics``; ``param``/``params``/
``parameter``/``parameters``; ``tag``/``tags``; ``attribute``/``attributes``/``attr``/``run``;
``dataset``/``datasets`` with the keys ``name``, ``digest`` and ``context`` (the run's inputs:
a comparison holds when it holds for at least one of them, as in MLflow, so
``datasets.name != 'a'`` means "some input is not named a"; ``context`` looks only at inputs
logged with a context).
A key without a prefix is an attribute. Names with special characters are quoted with backticks
or double quotes (``metrics.`val loss```, ``tags."mlflow.runName"``); unquoted names may contain
dots (``tags.mlflow.runName``). Values are numbers (metrics, ``start_time``, ``end_time``) or
strings in single or double quotes (everything else); a quote inside a string is doubled
(``'it''s'``). Keywords are case-insensitive.

Extensions over MLflow (a filter MLflow rejects may pass here): ``OR``/``NOT``/parentheses;
``IN``/``NOT IN`` for params, tags and every string attribute (MLflow: ``run_id``, in some
versions ``run_name``) with lists in either quote style (MLflow: single quotes) and an optional
trailing comma; ``NOT LIKE``/``NOT ILIKE``; ``IS NULL``/``IS NOT NULL`` on any key (MLflow 3.17:
params and tags; on datasets here: the run has no input, or none with a context); the
attributes ``name``, ``user``, ``experiment`` and ``source.commit``; unquoted names starting
with a digit after the prefix (``metrics.1st``); ``+`` in exponents.

Where MLflow accepts a filter that means something else here, or that we reject:

* String literals are read exactly as MLflow reads them: the value is the text between the
  outer quotes as written, where a doubled quote or a backslash protects the next quote from
  ending the string (``'it''s'`` is the five characters ``it''s``, ``'a\\'b'`` is ``a\\'b``).
* ``run_id IN (...)``: MLflow silently drops ids that are not all lower case (a MySQL guard);
  here ids compare exactly.
* Datasets cannot be sort keys (MLflow's stores reject them too, each in its own words).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from ledger.errors import FilterSyntaxError

Kind = Literal["metric", "param", "tag", "attribute", "dataset"]

_PREFIXES: dict[str, Kind] = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}  # fmt: skip
_COLUMN_PREFIX = {"metric": "metrics.", "param": "params.", "tag": "tags.",
                  "dataset": "datasets."}
DATASET_KEYS = ("name", "digest", "context")

# attribute key -> (column, numeric). MLflow's searchable RunInfo attributes and their aliases
# (``created``/``Created`` -> start_time, ``run name`` variants -> run_name), then ledger's own.
_ATTRIBUTES: dict[str, tuple[str, bool]] = {
    "run_id": ("run_id", False),
    "run_name": ("name", False), "run name": ("name", False), "Run name": ("name", False),
    "Run Name": ("name", False), "name": ("name", False),
    "status": ("status", False),
    "user_id": ("user", False), "user": ("user", False),
    "start_time": ("start_time", True), "created": ("start_time", True),
    "Created": ("start_time", True),
    "end_time": ("end_time", True),
    "experiment": ("experiment", False),
    "source.commit": ("source.commit", False),
    "artifact_uri": ("artifact_uri", False),  # derived from run_id (ledger.query.search)
}  # fmt: skip

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN")
_NULL_OPS = ("IS NULL", "IS NOT NULL")
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL"})
_KIND_NAMES = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes",
               "dataset": "datasets"}

_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_INTEGER = re.compile(r"-?[0-9]+")
_FIRST_SEGMENT = re.compile(r"[^\W\d]\w*")
_SEGMENT = re.compile(r"\w+")
_INT64 = 2**63
_STRING_LITERAL = {q: re.compile(rf"{q}(?:{q}{q}|\\{q}|[^{q}])*{q}") for q in "'\""}


@dataclass(frozen=True, slots=True)
class Field:
    """What a key refers to: its kind, its name, the run-table column and whether it is numeric."""

    kind: Kind
    key: str
    column: str
    numeric: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``; ``value`` is a float or int (numeric fields), a str, a tuple of str
    (``IN``/``NOT IN``) or None (``IS [NOT] NULL``). ``position`` is the key's 1-based offset."""

    field: Field
    op: str
    value: float | int | str | tuple[str, ...] | None
    position: int


@dataclass(frozen=True, slots=True)
class And:
    """All children hold (Kleene logic: unknown and true is unknown)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any child holds (Kleene logic: unknown or true is true)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not hold (not unknown is unknown)."""

    child: Node


Node: TypeAlias = Comparison | And | Or | Not


@dataclass(frozen=True, slots=True)
class SortKey:
    """One parsed ``order_by`` entry."""

    field: Field
    ascending: bool

    @property
    def column(self) -> str:
        """The run-table column sorted on."""
        return self.field.column


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name string number op kw ( ) , eof
    pos: int  # 0-based offset into the text
    text: str  # the source text of the token
    value: str = ""  # string: its content; kw: upper-case keyword
    segments: tuple[tuple[str, bool], ...] = ()  # name: (segment, was quoted)
    quote: str = ""  # string: the quote character


class _Lexer:
    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what  # "filter" or "order_by '...'", for messages

    def error(self, offset: int, message: str) -> FilterSyntaxError:
        position = offset + 1
        return FilterSyntaxError(
            f"invalid {self.what} at position {position}: {message}",
            text=self.text,
            position=position,
        )

    def tokens(self) -> list[_Token]:
        text, i, out = self.text, 0, []
        while i < len(text):
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "(),":
                out.append(_Token(c, i, c))
                i += 1
            elif c in "<>=!":
                op = text[i : i + 2] if text[i : i + 2] in ("<=", ">=", "!=", "==", "<>") else c
                if op in ("==", "<>"):
                    raise self.error(
                        i, f"unknown operator '{op}' (use '{'=' if op == '==' else '!='}')"
                    )
                if op == "!":
                    raise self.error(i, "unexpected '!' (use '!=' or NOT)")
                out.append(_Token("op", i, op))
                i += len(op)
            elif c in "'\"`":
                value, end = self.quoted(i)
                if c != "'" and text.startswith(".", end):  # a quoted first segment: `tags`.x
                    token = self.name(i)
                elif c == "`":  # backticks quote names only
                    token = _Token("name", i, text[i:end], segments=((value, True),))
                else:  # "x" is a string, or a name where the parser expects one (MLflow too)
                    end = self.string_end(i)
                    token = _Token("string", i, text[i:end], value=text[i + 1 : end - 1],
                                   quote=c)
                out.append(token)
                i = token.pos + len(token.text)
            elif m := _NUMBER.match(text, i):
                end = m.end()
                if end < len(text) and (text[end] == "." or _SEGMENT.match(text, end)):
                    raise self.error(i, f"invalid number starting {text[i : end + 1]!r}")
                out.append(_Token("number", i, m.group()))
                i = end
            elif _FIRST_SEGMENT.match(text, i):
                token = self.name(i)
                out.append(token)
                i = token.pos + len(token.text)
            else:
                glued = out and out[-1].kind == "name" and out[-1].pos + len(out[-1].text) == i
                hint = " (quote names with special characters: metrics.`a-b`)" if glued else ""
                raise self.error(i, f"unexpected character {c!r}{hint}")
        out.append(_Token("eof", len(text), ""))
        return out

    def quoted(self, start: int) -> tuple[str, int]:
        """Read a literal quoted by ``text[start]``, a doubled quote standing for itself."""
        text, quote, parts, i = self.text, self.text[start], [], start + 1
        while True:
            j = text.find(quote, i)
            if j < 0:
                kind = "string" if quote == "'" else "quoted name or string"
                raise self.error(start, f"unterminated {kind}: no closing {quote}")
            parts.append(text[i:j])
            if text.startswith(quote, j + 1):
                parts.append(quote)
                i = j + 2
            else:
                return "".join(parts), j + 1

    def string_end(self, start: int) -> int:
        """The end of a string literal, read as MLflow reads it (sqlparse's token pattern): a
        doubled quote or a backslash before the quote may continue the string, and the value is
        the text between the outer quotes as written (``'it''s'`` is ``it''s``)."""
        m = _STRING_LITERAL[self.text[start]].match(self.text, start)
        if m is None:
            kind = "string" if self.text[start] == "'" else "quoted name or string"
            raise self.error(start, f"unterminated {kind}: no closing {self.text[start]}")
        return m.end()

    def name(self, start: int) -> _Token:
        """Read a dotted name: bare or quoted segments joined by dots, no spaces."""
        text, i, segments = self.text, start, []
        while True:
            if text.startswith(("`", '"'), i):
                value, i = self.quoted(i)
                segments.append((value, True))
            else:
                m = (_FIRST_SEGMENT if not segments else _SEGMENT).match(text, i)
                if m is None:
                    raise self.error(i, f"expected a name after {text[start:i]!r}")
                segments.append((m.group(), False))
                i = m.end()
            if not text.startswith(".", i):
                break
            i += 1
        raw = text[start:i]
        if len(segments) == 1 and not segments[0][1] and raw.upper() in _KEYWORDS:
            return _Token("kw", start, raw, value=raw.upper())
        return _Token("name", start, raw, segments=tuple(segments))


def _resolve(lexer: _Lexer, token: _Token) -> Field:
    """Map a key token (a name, or a lone double-quoted name) to the field it refers to."""
    segments = token.segments or ((token.value, True),)
    first, first_quoted = segments[0]
    if len(segments) > 1 and first in _PREFIXES:
        kind, key = _PREFIXES[first], ".".join(s for s, _ in segments[1:])
    elif len(segments) == 1 or all(not quoted for _, quoted in segments):
        kind, key = "attribute", ".".join(s for s, _ in segments)
        if key not in _ATTRIBUTES and len(segments) > 1:
            raise lexer.error(
                token.pos,
                f"unknown key type {first!r} in {token.text!r}: "
                "expected metrics., params., tags. or attributes.",
            )
    else:
        raise lexer.error(token.pos, f"unknown key type {first!r} in {token.text!r}")
    if not key:
        raise lexer.error(token.pos, f"empty name in {token.text!r}")
    if kind == "dataset" and key not in DATASET_KEYS:
        raise lexer.error(token.pos, f"unknown dataset key {key!r} in {token.text!r}: "
                                     f"use datasets.name, datasets.digest or datasets.context")
    if kind != "attribute":
        return Field(kind, key, _COLUMN_PREFIX[kind] + key, kind == "metric")
    if key not in _ATTRIBUTES:
        hint = f" (did you mean metrics.{key}, params.{key} or tags.{key}?)"
        raise lexer.error(
            token.pos,
            f"unknown attribute {key!r}{hint if first == key and not first_quoted else ''}",
        )
    column, numeric = _ATTRIBUTES[key]
    return Field("attribute", key, column, numeric)


def _describe(token: _Token) -> str:
    return "the end of the input" if token.kind == "eof" else repr(token.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.lexer = _Lexer(text, "filter")
        self.tokens = self.lexer.tokens()
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at_kw(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "kw" and token.value in words

    def parse(self) -> Node:
        node = self.or_expr()
        token = self.peek()
        if token.kind != "eof":
            if token.kind == ")":
                raise self.lexer.error(token.pos, "unbalanced ')'")
            raise self.lexer.error(
                token.pos, f"expected AND, OR or the end of the filter, found {_describe(token)}"
            )
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.at_kw("OR"):
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.not_expr()]
        while self.at_kw("AND"):
            self.take()
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_expr(self) -> Node:
        token = self.peek()
        if self.at_kw("NOT"):
            self.take()
            return Not(self.not_expr())
        if token.kind == "(":
            self.take()
            node = self.or_expr()
            close = self.peek()
            if close.kind != ")":
                raise self.lexer.error(
                    close.pos,
                    f"expected ')' to close the '(' at position {token.pos + 1}, "
                    f"found {_describe(close)}",
                )
            self.take()
            return node
        if token.kind == "name" or (token.kind == "string" and token.quote == '"'):
            return self.comparison()
        raise self.lexer.error(
            token.pos,
            f"expected a comparison such as metrics.acc > 0.9, found {_describe(token)}",
        )

    def comparison(self) -> Comparison:
        key = self.take()
        field = _resolve(self.lexer, key)
        token = self.take()
        if token.kind == "op":
            op = token.text
        elif token.kind == "kw" and token.value == "NOT" and self.at_kw("IN", "LIKE", "ILIKE"):
            op = "NOT " + self.take().value
        elif token.kind == "kw" and token.value in ("IN", "LIKE", "ILIKE"):
            op = token.value
        elif token.kind == "kw" and token.value == "IS":
            negate = self.at_kw("NOT")
            if negate:
                self.take()
            if not self.at_kw("NULL"):
                raise self.lexer.error(self.peek().pos, f"expected NULL after {token.text}")
            self.take()
            return Comparison(field, "IS NOT NULL" if negate else "IS NULL", None, key.pos + 1)
        else:
            raise self.lexer.error(
                token.pos,
                f"expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL) "
                f"after {key.text!r}, found {_describe(token)}",
            )
        allowed = _NUMERIC_OPS if field.numeric else _STRING_OPS
        if op not in allowed:
            what = _KIND_NAMES[field.kind]
            if field.kind == "attribute":
                what = f"the attribute {field.key!r}"
            raise self.lexer.error(
                token.pos,
                f"comparator {op!r} is not allowed for {what}; use one of "
                f"{', '.join(allowed)}, IS NULL, IS NOT NULL",
            )
        value: float | int | str | tuple[str, ...]
        if op.endswith("IN"):
            value = self.string_list(op)
        elif field.numeric:
            value = self.number(field, op)
        else:
            value = self.string(field, op)
        return Comparison(field, op, value, key.pos + 1)

    def number(self, field: Field, op: str) -> float | int:
        token = self.take()
        if token.kind == "number":
            if field.kind == "attribute" and _INTEGER.fullmatch(token.text):
                as_int = int(token.text)
                if -_INT64 <= as_int < _INT64:
                    return as_int
            return float(token.text)
        if token.kind == "eof":
            raise self.lexer.error(token.pos, f"expected a value after {op!r}")
        if token.kind == "string":
            raise self.lexer.error(
                token.pos, f"{_field_text(field)} is numeric: compare it to a number, not a string"
            )
        raise self.lexer.error(
            token.pos, f"expected a number after {op!r}, found {_describe(token)}"
        )

    def string(self, field: Field, op: str) -> str:
        token = self.take()
        if token.kind == "string":
            return token.value
        if token.kind == "eof":
            raise self.lexer.error(token.pos, f"expected a value after {op!r}")
        if token.kind == "number":
            raise self.lexer.error(
                token.pos,
                f"{_field_text(field)} holds strings: quote the value, as in '{token.text}'",
            )
        if token.kind == "name" and token.text.startswith("`"):
            raise self.lexer.error(
                token.pos, "backticks quote names; quote values with '...' or \"...\""
            )
        raise self.lexer.error(
            token.pos, f"expected a quoted string after {op!r}, found {_describe(token)}"
        )

    def string_list(self, op: str) -> tuple[str, ...]:
        token = self.take()
        if token.kind != "(":
            raise self.lexer.error(token.pos, f"expected '(' after {op}, found {_describe(token)}")
        values: list[str] = []
        while True:
            item = self.take()
            if item.kind == ")" and not values:
                raise self.lexer.error(item.pos, f"{op} needs at least one value")
            if item.kind != "string":
                raise self.lexer.error(
                    item.pos, f"expected a quoted string in the {op} list, found {_describe(item)}"
                )
            values.append(item.value)
            sep = self.take()
            if sep.kind == "," and self.peek().kind == ")":  # MLflow accepts ('a', 'b',)
                sep = self.take()
            if sep.kind == ")":
                return tuple(values)
            if sep.kind != ",":
                raise self.lexer.error(
                    sep.pos, f"expected ',' or ')' in the {op} list, found {_describe(sep)}"
                )


def _field_text(field: Field) -> str:
    return field.key if field.kind == "attribute" else field.column


def parse_filter(text: str | None) -> Node | None:
    """Parse a search filter; ``None``, empty or blank text means "match every run" (``None``).

    Raises :class:`~ledger.errors.FilterSyntaxError` whose message names the problem and its
    1-based character position (``exc.position``; ``exc.caret`` draws it).
    """
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def referenced_columns(node: Node | None) -> frozenset[str]:
    """The run-table columns a parsed filter reads (to load only those Parquet columns)."""
    if node is None:
        return frozenset()
    if isinstance(node, Comparison):
        return frozenset((node.field.column,))
    if isinstance(node, Not):
        return referenced_columns(node.child)
    return frozenset().union(*(referenced_columns(child) for child in node.children))


def parse_order_by(order_by: Sequence[str] | str | None) -> list[SortKey]:
    """Parse sort keys such as ``metrics.acc DESC``, ``params.lr``, ``start_time ASC``.

    Same keys and quoting as filters; the direction is ``ASC`` (default) or ``DESC``, any case.
    """
    if order_by is None:
        return []
    if isinstance(order_by, str):
        order_by = [order_by]
    keys = []
    for clause in order_by:
        lexer = _Lexer(clause, f"order_by {clause!r}")
        tokens = lexer.tokens()
        key = tokens[0]
        if not (key.kind == "name" or (key.kind == "string" and key.quote == '"')):
            raise lexer.error(
                key.pos, f"expected a key such as metrics.acc, found {_describe(key)}"
            )
        field = _resolve(lexer, key)
        if field.kind == "dataset":
            raise lexer.error(key.pos, f"cannot sort by {key.text}: a run may have several "
                                       "datasets")
        ascending, rest = True, tokens[1:]
        direction = rest[0]
        if direction.kind == "name" and direction.text.upper() in ("ASC", "DESC"):
            ascending = direction.text.upper() == "ASC"
            rest = rest[1:]
        if rest[0].kind != "eof":
            raise lexer.error(rest[0].pos, f"expected ASC, DESC or the end, found {rest[0].text!r}")
        keys.append(SortKey(field, ascending))
    return keys
