from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.create_user_request_status_type_1 import CreateUserRequestStatusType1
from ..models.create_user_request_status_type_2_type_1 import (
    CreateUserRequestStatusType2Type1,
)
from ..models.create_user_request_status_type_3_type_1 import (
    CreateUserRequestStatusType3Type1,
)
from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateUserRequest")


@_attrs_define
class CreateUserRequest:
    """`POST /v1/users`.

    Attributes:
        name (str):  Example: Choi.
        points (int): Points, in minor units. Example: 20000.
        user_id (str):  Example: user-789.
        purchase_limit (int | None | Unset): The most one order may total, in minor units (default 0: no limit).
        status (CreateUserRequestStatusType1 | CreateUserRequestStatusType2Type1 | CreateUserRequestStatusType3Type1 |
            None | Unset): ACTIVE (default) or SUSPENDED.
    """

    name: str
    points: int
    user_id: str
    purchase_limit: int | None | Unset = UNSET
    status: (
        CreateUserRequestStatusType1
        | CreateUserRequestStatusType2Type1
        | CreateUserRequestStatusType3Type1
        | None
        | Unset
    ) = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        points = self.points

        user_id = self.user_id

        purchase_limit: int | None | Unset
        if isinstance(self.purchase_limit, Unset):
            purchase_limit = UNSET
        else:
            purchase_limit = self.purchase_limit

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        elif (
            isinstance(self.status, CreateUserRequestStatusType1)
            or isinstance(self.status, CreateUserRequestStatusType2Type1)
            or isinstance(self.status, CreateUserRequestStatusType3Type1)
        ):
            status = self.status.value
        else:
            status = self.status

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "points": points,
                "userId": user_id,
            }
        )
        if purchase_limit is not UNSET:
            field_dict["purchaseLimit"] = purchase_limit
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        points = d.pop("points")

        user_id = d.pop("userId")

        def _parse_purchase_limit(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        purchase_limit = _parse_purchase_limit(d.pop("purchaseLimit", UNSET))

        def _parse_status(
            data: object,
        ) -> (
            CreateUserRequestStatusType1
            | CreateUserRequestStatusType2Type1
            | CreateUserRequestStatusType3Type1
            | None
            | Unset
        ):
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                status_type_1 = CreateUserRequestStatusType1(data)

                return status_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                status_type_2_type_1 = CreateUserRequestStatusType2Type1(data)

                return status_type_2_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                status_type_3_type_1 = CreateUserRequestStatusType3Type1(data)

                return status_type_3_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                CreateUserRequestStatusType1
                | CreateUserRequestStatusType2Type1
                | CreateUserRequestStatusType3Type1
                | None
                | Unset,
                data,
            )

        status = _parse_status(d.pop("status", UNSET))

        create_user_request = cls(
            name=name,
            points=points,
            user_id=user_id,
            purchase_limit=purchase_limit,
            status=status,
        )

        return create_user_request
