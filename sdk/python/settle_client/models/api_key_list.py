from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.api_key_view import ApiKeyView


T = TypeVar("T", bound="ApiKeyList")


@_attrs_define
class ApiKeyList:
    """A merchant's keys.

    Attributes:
        data (list[ApiKeyView]):
        has_more (bool): Always false: at most 10 active keys, and revoked ones are purged, so the keys fit on one page.
        livemode (bool): The caller's mode: a key lists and manages the keys of its own mode only.
    """

    data: list[ApiKeyView]
    has_more: bool
    livemode: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = []
        for data_item_data in self.data:
            data_item = data_item_data.to_dict()
            data.append(data_item)

        has_more = self.has_more

        livemode = self.livemode

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "data": data,
                "hasMore": has_more,
                "livemode": livemode,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.api_key_view import ApiKeyView

        d = dict(src_dict)
        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = ApiKeyView.from_dict(data_item_data)

            data.append(data_item)

        has_more = d.pop("hasMore")

        livemode = d.pop("livemode")

        api_key_list = cls(
            data=data,
            has_more=has_more,
            livemode=livemode,
        )

        api_key_list.additional_properties = d
        return api_key_list

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
