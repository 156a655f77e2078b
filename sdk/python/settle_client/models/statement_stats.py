from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="StatementStats")


@_attrs_define
class StatementStats:
    """Latency of one statement (its SQL with placeholders; values are never kept) in this process: how often it ran,
    how many runs were slow (over 250 ms), and the median and 95th percentile of its recent runs.

        Attributes:
            count (int):
            p_50_ms (float):
            p_95_ms (float):
            slow (int): Runs that took 250 ms or more.
            sql (str):
            total_ms (float):
    """

    count: int
    p_50_ms: float
    p_95_ms: float
    slow: int
    sql: str
    total_ms: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        count = self.count

        p_50_ms = self.p_50_ms

        p_95_ms = self.p_95_ms

        slow = self.slow

        sql = self.sql

        total_ms = self.total_ms

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "count": count,
                "p50Ms": p_50_ms,
                "p95Ms": p_95_ms,
                "slow": slow,
                "sql": sql,
                "totalMs": total_ms,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        count = d.pop("count")

        p_50_ms = d.pop("p50Ms")

        p_95_ms = d.pop("p95Ms")

        slow = d.pop("slow")

        sql = d.pop("sql")

        total_ms = d.pop("totalMs")

        statement_stats = cls(
            count=count,
            p_50_ms=p_50_ms,
            p_95_ms=p_95_ms,
            slow=slow,
            sql=sql,
            total_ms=total_ms,
        )

        statement_stats.additional_properties = d
        return statement_stats

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
