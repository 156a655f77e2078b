from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.payment_view import PaymentView


T = TypeVar("T", bound="PaymentUpdate")


@_attrs_define
class PaymentUpdate:
    """One event of the stream (`event: payment`).

    Attributes:
        payment (PaymentView): A payment as the API shows it.
        confirmations (int | None | Unset): CHAIN, once its block is known: the confirmations it has (capped at
            `confirmationsRequired`).
        confirmations_required (int | None | Unset): CHAIN: the confirmations that make it COMPLETED.
    """

    payment: PaymentView
    confirmations: int | None | Unset = UNSET
    confirmations_required: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        payment = self.payment.to_dict()

        confirmations: int | None | Unset
        if isinstance(self.confirmations, Unset):
            confirmations = UNSET
        else:
            confirmations = self.confirmations

        confirmations_required: int | None | Unset
        if isinstance(self.confirmations_required, Unset):
            confirmations_required = UNSET
        else:
            confirmations_required = self.confirmations_required

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "payment": payment,
            }
        )
        if confirmations is not UNSET:
            field_dict["confirmations"] = confirmations
        if confirmations_required is not UNSET:
            field_dict["confirmationsRequired"] = confirmations_required

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.payment_view import PaymentView

        d = dict(src_dict)
        payment = PaymentView.from_dict(d.pop("payment"))

        def _parse_confirmations(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        confirmations = _parse_confirmations(d.pop("confirmations", UNSET))

        def _parse_confirmations_required(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        confirmations_required = _parse_confirmations_required(
            d.pop("confirmationsRequired", UNSET)
        )

        payment_update = cls(
            payment=payment,
            confirmations=confirmations,
            confirmations_required=confirmations_required,
        )

        payment_update.additional_properties = d
        return payment_update

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
