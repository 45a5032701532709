"""Wire models refuse what JSON or the contract cannot carry."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from taskmanager.models import ClaimRequest, TaskCreate, TaskTypeUpdate


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"k": value}
    return value


def test_params_nesting_limit_is_32() -> None:
    assert TaskCreate(type="a", params=nested(32)).params == nested(32)
    with pytest.raises(ValidationError):
        TaskCreate(type="a", params=nested(33))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_params_refuse_non_finite_numbers(bad: float) -> None:
    with pytest.raises(ValidationError):
        TaskCreate(type="a", params={"x": [1, {"y": bad}]})


def test_params_schema_is_plain_json_too() -> None:
    with pytest.raises(ValidationError):
        TaskTypeUpdate(params_schema={"maximum": float("nan")})


def test_run_at_is_converted_to_utc() -> None:
    item = TaskCreate.model_validate({"type": "a", "run_at": "2030-06-01T12:00:00-04:00"})
    assert item.run_at is not None and item.run_at.isoformat() == "2030-06-01T16:00:00+00:00"


@pytest.mark.parametrize("when", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_run_at_out_of_range_in_utc_is_a_validation_error(when: str) -> None:
    with pytest.raises(ValidationError):
        TaskCreate.model_validate({"type": "a", "run_at": when})


@pytest.mark.parametrize("name", ["a", "myapp.email.send", "x:y-z_1", "A" * 200])
def test_good_type_names(name: str) -> None:
    assert TaskCreate(type=name).type == name


@pytest.mark.parametrize("name", ["", "a b", "a/b", "é", "A" * 201, "a\n"])
def test_bad_type_names(name: str) -> None:
    with pytest.raises(ValidationError):
        TaskCreate(type=name)


def test_claim_defaults() -> None:
    claim = ClaimRequest(worker_id="w")
    assert (claim.task_types, claim.lease_seconds, claim.wait_seconds) == (None, None, 0.0)
