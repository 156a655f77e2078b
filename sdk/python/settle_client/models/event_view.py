from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.event_view_data_type_0 import EventViewDataType0


T = TypeVar("T", bound="EventView")


@_attrs_define
class EventView:
    """One entry of a payment's history.

    Attributes:
        created_at (str):
        event_type (str): CREATED, SUBMITTED, CONFIRMED, FAILED or CANCELLED.
        to_status (str):
        version (int):
        data (EventViewDataType0 | None | Unset):
        from_status (None | str | Unset):
    """

    created_at: str
    event_type: str
    to_status: str
    version: int
    data: EventViewDataType0 | None | Unset = UNSET
    from_status: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.event_view_data_type_0 import EventViewDataType0

        created_at = self.created_at

        event_type = self.event_type

        to_status = self.to_status

        version = self.version

        data: dict[str, Any] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, EventViewDataType0):
            data = self.data.to_dict()
        else:
            data = self.data

        from_status: None | str | Unset
        if isinstance(self.from_status, Unset):
            from_status = UNSET
        else:
            from_status = self.from_status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "createdAt": created_at,
                "eventType": event_type,
                "toStatus": to_status,
                "version": version,
            }
        )
        if data is not UNSET:
            field_dict["data"] = data
        if from_status is not UNSET:
            field_dict["fromStatus"] = from_status

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.event_view_data_type_0 import EventViewDataType0

        d = dict(src_dict)
        created_at = d.pop("createdAt")

        event_type = d.pop("eventType")

        to_status = d.pop("toStatus")

        version = d.pop("version")

        def _parse_data(data: object) -> EventViewDataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = EventViewDataType0.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EventViewDataType0 | None | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        def _parse_from_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        from_status = _parse_from_status(d.pop("fromStatus", UNSET))

        event_view = cls(
            created_at=created_at,
            event_type=event_type,
            to_status=to_status,
            version=version,
            data=data,
            from_status=from_status,
        )

        event_view.additional_properties = d
        return event_view

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
