from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.seed_step import SeedStep


T = TypeVar("T", bound="SeedSaga")


@_attrs_define
class SeedSaga:
    """Seed 002's SagaState.

    Attributes:
        created_at (str):
        item_id (str): The order's (first) item.
        price (int): Its unit price, in minor units.
        quantity (int):
        status (str): pending, in_progress, completed, failed, compensating or compensated.
        steps (list[SeedStep]):
        transaction_id (str):
        updated_at (str):
        user_id (str):
        completed_at (None | str | Unset): When the saga ended COMPLETED.
        error_message (None | str | Unset):
    """

    created_at: str
    item_id: str
    price: int
    quantity: int
    status: str
    steps: list[SeedStep]
    transaction_id: str
    updated_at: str
    user_id: str
    completed_at: None | str | Unset = UNSET
    error_message: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        item_id = self.item_id

        price = self.price

        quantity = self.quantity

        status = self.status

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        transaction_id = self.transaction_id

        updated_at = self.updated_at

        user_id = self.user_id

        completed_at: None | str | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        else:
            completed_at = self.completed_at

        error_message: None | str | Unset
        if isinstance(self.error_message, Unset):
            error_message = UNSET
        else:
            error_message = self.error_message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "createdAt": created_at,
                "itemId": item_id,
                "price": price,
                "quantity": quantity,
                "status": status,
                "steps": steps,
                "transactionId": transaction_id,
                "updatedAt": updated_at,
                "userId": user_id,
            }
        )
        if completed_at is not UNSET:
            field_dict["completedAt"] = completed_at
        if error_message is not UNSET:
            field_dict["errorMessage"] = error_message

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.seed_step import SeedStep

        d = dict(src_dict)
        created_at = d.pop("createdAt")

        item_id = d.pop("itemId")

        price = d.pop("price")

        quantity = d.pop("quantity")

        status = d.pop("status")

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = SeedStep.from_dict(steps_item_data)

            steps.append(steps_item)

        transaction_id = d.pop("transactionId")

        updated_at = d.pop("updatedAt")

        user_id = d.pop("userId")

        def _parse_completed_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        completed_at = _parse_completed_at(d.pop("completedAt", UNSET))

        def _parse_error_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error_message = _parse_error_message(d.pop("errorMessage", UNSET))

        seed_saga = cls(
            created_at=created_at,
            item_id=item_id,
            price=price,
            quantity=quantity,
            status=status,
            steps=steps,
            transaction_id=transaction_id,
            updated_at=updated_at,
            user_id=user_id,
            completed_at=completed_at,
            error_message=error_message,
        )

        seed_saga.additional_properties = d
        return seed_saga

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
