from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.simulated import Simulated

T = TypeVar("T", bound="SimulateRequest")


@_attrs_define
class SimulateRequest:
    """What to simulate.

    Attributes:
        outcome (Simulated): What a test payment is made to undergo.
    """

    outcome: Simulated

    def to_dict(self) -> dict[str, Any]:
        outcome = self.outcome.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "outcome": outcome,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        outcome = Simulated(d.pop("outcome"))

        simulate_request = cls(
            outcome=outcome,
        )

        return simulate_request
