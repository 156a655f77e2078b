from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SeedSagaStats")


@_attrs_define
class SeedSagaStats:
    """Seed 002's statistics: flat counts.

    Attributes:
        compensated (int):
        compensating (int):
        completed (int):
        failed (int):
        in_progress (int):
        pending (int):
        total (int):
    """

    compensated: int
    compensating: int
    completed: int
    failed: int
    in_progress: int
    pending: int
    total: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        compensated = self.compensated

        compensating = self.compensating

        completed = self.completed

        failed = self.failed

        in_progress = self.in_progress

        pending = self.pending

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "compensated": compensated,
                "compensating": compensating,
                "completed": completed,
                "failed": failed,
                "inProgress": in_progress,
                "pending": pending,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        compensated = d.pop("compensated")

        compensating = d.pop("compensating")

        completed = d.pop("completed")

        failed = d.pop("failed")

        in_progress = d.pop("inProgress")

        pending = d.pop("pending")

        total = d.pop("total")

        seed_saga_stats = cls(
            compensated=compensated,
            compensating=compensating,
            completed=completed,
            failed=failed,
            in_progress=in_progress,
            pending=pending,
            total=total,
        )

        seed_saga_stats.additional_properties = d
        return seed_saga_stats

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
