from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.saga_stats_by_status import SagaStatsByStatus


T = TypeVar("T", bound="SagaStats")


@_attrs_define
class SagaStats:
    """`GET /sagas/stats`: how many sagas there are, in all and per status (every status listed, zeros included).

    Attributes:
        by_status (SagaStatsByStatus):
        total (int):
    """

    by_status: SagaStatsByStatus
    total: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        by_status = self.by_status.to_dict()

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "byStatus": by_status,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.saga_stats_by_status import SagaStatsByStatus

        d = dict(src_dict)
        by_status = SagaStatsByStatus.from_dict(d.pop("byStatus"))

        total = d.pop("total")

        saga_stats = cls(
            by_status=by_status,
            total=total,
        )

        saga_stats.additional_properties = d
        return saga_stats

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
