from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.webhook_attempt import WebhookAttempt


T = TypeVar("T", bound="WebhookDelivery")


@_attrs_define
class WebhookDelivery:
    """A delivery of one event to one endpoint.

    Attributes:
        attempt_count (int):
        attempts (list[WebhookAttempt]):
        created_at (str):
        endpoint_id (str):
        event_id (str): The `webhook-id` of every attempt: the event's id. Example:
            evt_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b.
        event_type (str):
        id (str):  Example: wd_0192f3a4b5c67d8e9f0a1b2c3d4e5f60.
        livemode (bool): Whether it is live (false: a test key's).
        status (str): PENDING, SUCCEEDED or FAILED.
        updated_at (str):
        last_status_code (int | None | Unset):
        next_attempt_at (None | str | Unset): PENDING: when it is (or was last) due.
    """

    attempt_count: int
    attempts: list[WebhookAttempt]
    created_at: str
    endpoint_id: str
    event_id: str
    event_type: str
    id: str
    livemode: bool
    status: str
    updated_at: str
    last_status_code: int | None | Unset = UNSET
    next_attempt_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt_count = self.attempt_count

        attempts = []
        for attempts_item_data in self.attempts:
            attempts_item = attempts_item_data.to_dict()
            attempts.append(attempts_item)

        created_at = self.created_at

        endpoint_id = self.endpoint_id

        event_id = self.event_id

        event_type = self.event_type

        id = self.id

        livemode = self.livemode

        status = self.status

        updated_at = self.updated_at

        last_status_code: int | None | Unset
        if isinstance(self.last_status_code, Unset):
            last_status_code = UNSET
        else:
            last_status_code = self.last_status_code

        next_attempt_at: None | str | Unset
        if isinstance(self.next_attempt_at, Unset):
            next_attempt_at = UNSET
        else:
            next_attempt_at = self.next_attempt_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attemptCount": attempt_count,
                "attempts": attempts,
                "createdAt": created_at,
                "endpointId": endpoint_id,
                "eventId": event_id,
                "eventType": event_type,
                "id": id,
                "livemode": livemode,
                "status": status,
                "updatedAt": updated_at,
            }
        )
        if last_status_code is not UNSET:
            field_dict["lastStatusCode"] = last_status_code
        if next_attempt_at is not UNSET:
            field_dict["nextAttemptAt"] = next_attempt_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.webhook_attempt import WebhookAttempt

        d = dict(src_dict)
        attempt_count = d.pop("attemptCount")

        attempts = []
        _attempts = d.pop("attempts")
        for attempts_item_data in _attempts:
            attempts_item = WebhookAttempt.from_dict(attempts_item_data)

            attempts.append(attempts_item)

        created_at = d.pop("createdAt")

        endpoint_id = d.pop("endpointId")

        event_id = d.pop("eventId")

        event_type = d.pop("eventType")

        id = d.pop("id")

        livemode = d.pop("livemode")

        status = d.pop("status")

        updated_at = d.pop("updatedAt")

        def _parse_last_status_code(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        last_status_code = _parse_last_status_code(d.pop("lastStatusCode", UNSET))

        def _parse_next_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("nextAttemptAt", UNSET))

        webhook_delivery = cls(
            attempt_count=attempt_count,
            attempts=attempts,
            created_at=created_at,
            endpoint_id=endpoint_id,
            event_id=event_id,
            event_type=event_type,
            id=id,
            livemode=livemode,
            status=status,
            updated_at=updated_at,
            last_status_code=last_status_code,
            next_attempt_at=next_attempt_at,
        )

        webhook_delivery.additional_properties = d
        return webhook_delivery

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
