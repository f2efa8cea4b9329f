from __future__ import annotations

import pytest

from sparsebench.contracts.errors import SpecError
from sparsebench.contracts.params import Param, format_spec, non_defaults, parse_spec, resolve_params

DECLARED = (
    Param("C", "float", 1.0, low=0.0),
    Param("n", "int", 3, low=1, high=10),
    Param("mode", "str", "a", choices=("a", "b")),
    Param("flag", "bool", False),
    Param("path", "str", ""),
    Param("seed", "int", None, nullable=True),
)


def test_parse_plain_name() -> None:
    spec = parse_spec("logreg")
    assert spec.name == "logreg" and dict(spec.overrides) == {}


def test_parse_parameters_with_quotes_and_commas() -> None:
    spec = parse_spec('file[path="a,b[1].csv",text_column=body]')
    assert spec.name == "file"
    assert dict(spec.overrides) == {"path": "a,b[1].csv", "text_column": "body"}


def test_format_round_trips() -> None:
    params = {"path": 'x,"y"', "C": 2.0, "flag": True}
    assert dict(parse_spec(format_spec("file", params)).overrides) == {"C": "2.0", "flag": "true", "path": 'x,"y"'}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("logreg[C=1", "must end with ']'"),
        ("log reg", "not a valid component name"),
        ("logreg[C]", "is not key=value"),
        ("logreg[C=1,C=2]", "given twice"),
        ('file[path="abc]', "unterminated quote"),
        ("logreg[1x=2]", "not a valid parameter name"),
    ],
)
def test_parse_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(text)


def test_resolve_fills_defaults_and_coerces() -> None:
    values = resolve_params("classifier 'x'", DECLARED, {"C": "0.5", "n": "7", "flag": "yes", "seed": "none"})
    assert values == {"C": 0.5, "n": 7, "mode": "a", "flag": True, "path": "", "seed": None}
    assert non_defaults(DECLARED, values) == {"C": 0.5, "n": 7, "flag": True}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cc": "1"}, "unknown parameter 'cc'"),
        ({"C": "abc"}, "must be a number"),
        ({"C": "-1"}, "must be >= 0"),
        ({"n": "11"}, "must be <= 10"),
        ({"n": "2.5"}, "must be an integer"),
        ({"mode": "c"}, "must be one of a, b"),
        ({"flag": "maybe"}, "must be true or false"),
        ({"C": "nan"}, "NaN"),
        ({"n": "none"}, "needs a value"),
    ],
)
def test_resolve_rejects_bad_values(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        resolve_params("classifier 'x'", DECLARED, overrides)
    assert "classifier 'x'" in str(info.value)
