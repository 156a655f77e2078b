from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.seed_saga import SeedSaga


T = TypeVar("T", bound="SeedSagaPage")


@_attrs_define
class SeedSagaPage:
    """Seed 002's page of sagas.

    Attributes:
        data (list[SeedSaga]):
        limit (int):
        page (int):
        total (int):
        total_pages (int):
    """

    data: list[SeedSaga]
    limit: int
    page: int
    total: int
    total_pages: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = []
        for data_item_data in self.data:
            data_item = data_item_data.to_dict()
            data.append(data_item)

        limit = self.limit

        page = self.page

        total = self.total

        total_pages = self.total_pages

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "data": data,
                "limit": limit,
                "page": page,
                "total": total,
                "totalPages": total_pages,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.seed_saga import SeedSaga

        d = dict(src_dict)
        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = SeedSaga.from_dict(data_item_data)

            data.append(data_item)

        limit = d.pop("limit")

        page = d.pop("page")

        total = d.pop("total")

        total_pages = d.pop("totalPages")

        seed_saga_page = cls(
            data=data,
            limit=limit,
            page=page,
            total=total,
            total_pages=total_pages,
        )

        seed_saga_page.additional_properties = d
        return seed_saga_page

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
