from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UserView")


@_attrs_define
class UserView:
    """
    Attributes:
        created_at (str):
        livemode (bool): Whether it is live (false: a test key's).
        name (str):
        points (int): Points, in minor units.
        purchase_limit (int): The most one order may total (0: no limit).
        status (str): ACTIVE or SUSPENDED.
        user_id (str):
    """

    created_at: str
    livemode: bool
    name: str
    points: int
    purchase_limit: int
    status: str
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        livemode = self.livemode

        name = self.name

        points = self.points

        purchase_limit = self.purchase_limit

        status = self.status

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "createdAt": created_at,
                "livemode": livemode,
                "name": name,
                "points": points,
                "purchaseLimit": purchase_limit,
                "status": status,
                "userId": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = d.pop("createdAt")

        livemode = d.pop("livemode")

        name = d.pop("name")

        points = d.pop("points")

        purchase_limit = d.pop("purchaseLimit")

        status = d.pop("status")

        user_id = d.pop("userId")

        user_view = cls(
            created_at=created_at,
            livemode=livemode,
            name=name,
            points=points,
            purchase_limit=purchase_limit,
            status=status,
            user_id=user_id,
        )

        user_view.additional_properties = d
        return user_view

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
