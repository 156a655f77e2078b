from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SeedStep")


@_attrs_define
class SeedStep:
    """Seed 002's saga_step_results row.

    Attributes:
        executed_at (str):
        status (str): completed, or compensated.
        step (str): check_user, reserve_stock, deduct_points, ...
    """

    executed_at: str
    status: str
    step: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        executed_at = self.executed_at

        status = self.status

        step = self.step

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "executedAt": executed_at,
                "status": status,
                "step": step,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        executed_at = d.pop("executedAt")

        status = d.pop("status")

        step = d.pop("step")

        seed_step = cls(
            executed_at=executed_at,
            status=status,
            step=step,
        )

        seed_step.additional_properties = d
        return seed_step

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
