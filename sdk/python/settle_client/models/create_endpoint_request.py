from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateEndpointRequest")


@_attrs_define
class CreateEndpointRequest:
    """`POST /v1/webhook-endpoints`.

    Attributes:
        events (list[str]): Event types: a type (`payment.completed`), a prefix (`payment.*`) or `*`; 1 to 32. Example:
            ['payment.*'].
        url (str): https (plain http only for hosts on SETTLE_WEBHOOK_ALLOW_HOSTS); its host must resolve to public
            addresses. Example: https://shop.example/webhooks/settle.
        description (None | str | Unset):
    """

    events: list[str]
    url: str
    description: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        events = self.events

        url = self.url

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "events": events,
                "url": url,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        events = cast(list[str], d.pop("events"))

        url = d.pop("url")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        create_endpoint_request = cls(
            events=events,
            url=url,
            description=description,
        )

        return create_endpoint_request
