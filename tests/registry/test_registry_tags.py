"""The tag grammar: examples, GTO parity, round trips and no crash on any string."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import RegistryError, RegistryNameError
from ledger.registry.tags import (
    ModelRef,
    RegistryTag,
    SemVer,
    TagKind,
    assignment_tag,
    bump,
    check_name,
    deprecation_tag,
    deregistration_tag,
    is_valid_name,
    parse_ref,
    parse_tag,
    parse_version,
    unassignment_tag,
    version_tag,
)

gto_tag: Any
try:
    import gto.tag as gto_tag
except ImportError:  # the parity test needs gto (pip install gto)
    gto_tag = None

V = parse_version

EXAMPLES = [
    ("iris@v1.2.3", RegistryTag(TagKind.REGISTER, "iris", version=V("v1.2.3"))),
    ("iris@v1.2.3!", RegistryTag(TagKind.DEREGISTER, "iris", version=V("v1.2.3"))),
    ("iris#prod#4", RegistryTag(TagKind.ASSIGN, "iris", stage="prod", counter=4)),
    ("iris#prod!#5", RegistryTag(TagKind.UNASSIGN, "iris", stage="prod", counter=5)),
    ("iris@deprecated", RegistryTag(TagKind.DEPRECATE, "iris")),
    # forms GTO also parses: counters on every kind, --simple assignments, @created
    ("iris@v1.2.3#7", RegistryTag(TagKind.REGISTER, "iris", version=V("v1.2.3"), counter=7)),
    ("iris@v1.2.3!#8", RegistryTag(TagKind.DEREGISTER, "iris", version=V("v1.2.3"), counter=8)),
    ("iris@deprecated#9", RegistryTag(TagKind.DEPRECATE, "iris", counter=9)),
    ("iris#prod", RegistryTag(TagKind.ASSIGN, "iris", stage="prod")),
    ("iris#prod!", RegistryTag(TagKind.UNASSIGN, "iris", stage="prod")),
    ("iris@created", RegistryTag(TagKind.CREATE, "iris")),
    (
        "team/iris_2#eu/prod#3",
        RegistryTag(TagKind.ASSIGN, "team/iris_2", stage="eu/prod", counter=3),
    ),
    ("models/a=iris@v0.0.1", RegistryTag(TagKind.REGISTER, "models/a:iris", version=V("v0.0.1"))),
    ("Iris@v1.0.0-rc.1+b7", RegistryTag(TagKind.REGISTER, "Iris", version=V("v1.0.0-rc.1+b7"))),
]

FOREIGN = [
    "v1.0",
    "v1.0.0",
    "release-2",
    "iris@v1.0",
    "iris@v01.0.0",
    "iris@V1.0.0",
    "iris@1.0.0",
    "-iris@v1.0.0",
    "iris-@v1.0.0",
    "iris#",
    "iris#prod#",
    "iris#prod#x",
    "iris#pr.od#1",
    "iris@latest",
    "iris@v1.0.0!!",
    "iris@deprecated!",
    "iris##1",
    "@v1.0.0",
    "#prod#1",
    "iris@v1.0.0 ",
    "iris@v1.٣.0",
    "iris#prod#١",
    "iris@v1.0.0\n",
    "",
]


@pytest.mark.parametrize(("name", "expected"), EXAMPLES)
def test_examples_parse_and_format_back(name: str, expected: RegistryTag) -> None:
    assert parse_tag(name) == expected
    assert str(expected) == name


@pytest.mark.parametrize("name", FOREIGN)
def test_foreign_tags_are_not_ours(name: str) -> None:
    assert parse_tag(name) is None


def test_builders_write_gto_default_forms() -> None:
    assert version_tag("iris", "v1.2.0") == "iris@v1.2.0"
    assert deregistration_tag("iris", V("v1.2.0")) == "iris@v1.2.0!"
    assert assignment_tag("iris", "production", 3) == "iris#production#3"
    assert unassignment_tag("iris", "production", 4) == "iris#production!#4"
    assert deprecation_tag("team/iris") == "team/iris@deprecated"


@pytest.mark.parametrize("bad", ["Iris", "iris-", "-iris", "a//b", "ir is", "iris@x", "", "é"])
def test_builders_refuse_invalid_names(bad: str) -> None:
    assert not is_valid_name(bad)
    with pytest.raises(RegistryNameError):
        version_tag(bad, "v1.0.0")
    with pytest.raises(RegistryNameError):
        assignment_tag("iris", bad, 1)


@pytest.mark.parametrize("counter", [0, -1, True])
def test_counters_start_at_one(counter: int) -> None:
    with pytest.raises(RegistryError):
        assignment_tag("iris", "prod", counter)


def test_semver_precedence() -> None:
    order = [
        "v0.9.9",
        "v1.0.0-alpha",
        "v1.0.0-alpha.1",
        "v1.0.0-alpha.beta",
        "v1.0.0-beta",
        "v1.0.0-beta.2",
        "v1.0.0-beta.11",
        "v1.0.0-rc.1",
        "v1.0.0",
        "v1.0.1",
        "v1.10.0",
    ]
    versions = [V(v) for v in order]
    shuffled = versions[3:] + versions[:3]
    assert sorted(shuffled) == versions
    assert [str(v) for v in versions] == order


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [
        ("v1.2.3", "patch", "v1.2.4"),
        ("v1.2.3", "minor", "v1.3.0"),
        ("v1.2.3", "major", "v2.0.0"),
        ("v1.2.3-rc.1+b", "patch", "v1.2.4"),
    ],
)
def test_bump(version: str, part: str, expected: str) -> None:
    assert str(bump(version, part)) == expected  # type: ignore[arg-type]


def test_bump_refuses_unknown_part() -> None:
    with pytest.raises(RegistryNameError):
        bump("v1.0.0", "micro")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["1.0.0", "v1.0", "v1.0.0-", "v1.0.0+", "v01.0.0", "v1.0.0-01"])
def test_parse_version_refuses(bad: str) -> None:
    with pytest.raises(RegistryNameError, match="invalid version"):
        parse_version(bad)


def test_parse_ref() -> None:
    assert parse_ref("iris@v1.2.0") == ModelRef("iris", version=V("v1.2.0"))
    assert parse_ref("iris@latest") == ModelRef("iris")
    assert parse_ref("iris@greatest").latest
    assert parse_ref("iris#production") == ModelRef("iris", stage="production")
    assert str(parse_ref("team/iris#prod")) == "team/iris#prod"
    for bad in ("iris", "iris@", "iris@1.0", "iris#", "iris#prod#3"):
        with pytest.raises(RegistryNameError):
            parse_ref(bad)


# --- properties -------------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
names = st.builds(
    lambda first, mid, last: first + mid + last if mid or last else first,
    st.sampled_from(_ALNUM),
    st.text(alphabet=_ALNUM + "-_/", max_size=12),
    st.one_of(st.just(""), st.sampled_from(_ALNUM)),
).filter(is_valid_name)
idents = st.one_of(
    st.integers(0, 10**6).map(str),
    st.from_regex(r"[0-9]*[A-Za-z-][0-9A-Za-z-]{0,5}", fullmatch=True),
)
versions = st.builds(
    SemVer,
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.lists(idents, max_size=3).map(tuple),
    st.lists(st.from_regex(r"[0-9A-Za-z-]{1,6}", fullmatch=True), max_size=2).map(tuple),
)
counters = st.integers(1, 10**12)
built = st.one_of(
    st.builds(
        lambda m, v: (version_tag(m, v), RegistryTag(TagKind.REGISTER, m, version=v)),
        names,
        versions,
    ),
    st.builds(
        lambda m, v: (deregistration_tag(m, v), RegistryTag(TagKind.DEREGISTER, m, version=v)),
        names,
        versions,
    ),
    st.builds(
        lambda m, s, n: (
            assignment_tag(m, s, n),
            RegistryTag(TagKind.ASSIGN, m, stage=s, counter=n),
        ),
        names,
        names,
        counters,
    ),
    st.builds(
        lambda m, s, n: (
            unassignment_tag(m, s, n),
            RegistryTag(TagKind.UNASSIGN, m, stage=s, counter=n),
        ),
        names,
        names,
        counters,
    ),
    st.builds(lambda m: (deprecation_tag(m), RegistryTag(TagKind.DEPRECATE, m)), names),
)


@given(built)
@settings(max_examples=500)
def test_build_then_parse_round_trips(pair: tuple[str, RegistryTag]) -> None:
    name, expected = pair
    assert parse_tag(name) == expected
    assert str(parse_tag(name)) == name


@given(versions)
def test_version_text_round_trips(version: SemVer) -> None:
    assert parse_version(str(version)) == version


tagish = st.text(alphabet=st.sampled_from(list("iris@#!v0123456789.-+_/=:aZé \n")), max_size=40)


@given(
    st.one_of(
        st.text(max_size=60),
        tagish,
        st.binary(max_size=30).map(lambda b: b.decode("utf-8", "surrogateescape")),
    )
)
@settings(max_examples=1000)
def test_any_string_parses_to_none_or_a_stable_tag(text: str) -> None:
    parsed = parse_tag(text)
    if parsed is not None:
        assert parse_tag(str(parsed)) == parsed  # formatting is canonical (e.g. #01 -> #1)
    try:
        parse_ref(text)
    except RegistryNameError:
        pass


@pytest.mark.skipif(gto_tag is None, reason="gto is not installed")
@given(tagish)
@settings(max_examples=1000, deadline=None)
def test_same_verdict_as_gto(text: str) -> None:
    assert gto_tag is not None
    theirs = gto_tag.parse_name(text, raise_on_fail=False)
    ours = parse_tag(text)
    if "\n" in text:  # GTO's "$" also matches before a final newline; git refs have none
        return
    assert bool(theirs) == (ours is not None)
    if ours is not None:
        assert theirs["name"] == ours.model
        assert theirs.get("counter") == ours.counter
        assert theirs.get("stage") == ours.stage
        assert theirs.get("version") == (str(ours.version) if ours.version else None)


def test_check_name_message() -> None:
    with pytest.raises(RegistryNameError, match="invalid stage name 'Prod'"):
        check_name("Prod", "stage name")


def test_split_signature_like_git() -> None:
    from ledger.registry.tagrefs import split_signature

    sig = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
    assert split_signature("msg\n" + sig) == ("msg\n", sig, "ssh")
    assert split_signature("msg\r-----BEGIN PGP SIGNATURE-----\n") == (
        "msg\r-----BEGIN PGP SIGNATURE-----\n",
        "",
        None,
    )
    pgp = "-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n"
    quoted = "see:\n" + pgp + "\n"  # the last marker line starts the signature
    assert split_signature(quoted + pgp)[1] == pgp
    assert split_signature("no signature") == ("no signature", "", None)
