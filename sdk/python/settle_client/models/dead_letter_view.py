from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DeadLetterView")


@_attrs_define
class DeadLetterView:
    """An event parked in the dead letters: the consumer that kept failing on it, the event, its last error.

    Attributes:
        aggregate_id (str): The saga (or, for a payment's event, the payment) the event is about.
        attempts (int):
        consumer (str): The choreography consumer: users, stock, coupons, points, payments or orders.
        created_at (str):
        error (str):
        event_seq (int):
        id (int):
        merchant_id (str):
        topic (str):
        updated_at (str):
        event_id (None | str | Unset):
        next_attempt_at (None | str | Unset): When Settle tries it again by itself; absent: it waits for an operator's
            retry.
    """

    aggregate_id: str
    attempts: int
    consumer: str
    created_at: str
    error: str
    event_seq: int
    id: int
    merchant_id: str
    topic: str
    updated_at: str
    event_id: None | str | Unset = UNSET
    next_attempt_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        aggregate_id = self.aggregate_id

        attempts = self.attempts

        consumer = self.consumer

        created_at = self.created_at

        error = self.error

        event_seq = self.event_seq

        id = self.id

        merchant_id = self.merchant_id

        topic = self.topic

        updated_at = self.updated_at

        event_id: None | str | Unset
        if isinstance(self.event_id, Unset):
            event_id = UNSET
        else:
            event_id = self.event_id

        next_attempt_at: None | str | Unset
        if isinstance(self.next_attempt_at, Unset):
            next_attempt_at = UNSET
        else:
            next_attempt_at = self.next_attempt_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "aggregateId": aggregate_id,
                "attempts": attempts,
                "consumer": consumer,
                "createdAt": created_at,
                "error": error,
                "eventSeq": event_seq,
                "id": id,
                "merchantId": merchant_id,
                "topic": topic,
                "updatedAt": updated_at,
            }
        )
        if event_id is not UNSET:
            field_dict["eventId"] = event_id
        if next_attempt_at is not UNSET:
            field_dict["nextAttemptAt"] = next_attempt_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        aggregate_id = d.pop("aggregateId")

        attempts = d.pop("attempts")

        consumer = d.pop("consumer")

        created_at = d.pop("createdAt")

        error = d.pop("error")

        event_seq = d.pop("eventSeq")

        id = d.pop("id")

        merchant_id = d.pop("merchantId")

        topic = d.pop("topic")

        updated_at = d.pop("updatedAt")

        def _parse_event_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        event_id = _parse_event_id(d.pop("eventId", UNSET))

        def _parse_next_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("nextAttemptAt", UNSET))

        dead_letter_view = cls(
            aggregate_id=aggregate_id,
            attempts=attempts,
            consumer=consumer,
            created_at=created_at,
            error=error,
            event_seq=event_seq,
            id=id,
            merchant_id=merchant_id,
            topic=topic,
            updated_at=updated_at,
            event_id=event_id,
            next_attempt_at=next_attempt_at,
        )

        dead_letter_view.additional_properties = d
        return dead_letter_view

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
