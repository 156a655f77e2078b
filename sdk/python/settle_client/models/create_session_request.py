from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_payment_request import CreatePaymentRequest


T = TypeVar("T", bound="CreateSessionRequest")


@_attrs_define
class CreateSessionRequest:
    """`POST /v1/checkout-sessions`.

    Attributes:
        cancel_url (str): Where "Cancel" sends the payer (the same rules). Example: https://shop.example/cart.
        success_url (str): Where the page sends the payer once the payment is COMPLETED (https, on one of the merchant's
            `redirectHosts`; http only on localhost). Settle adds `session_id`, `payment_id`, `timestamp` and `signature`.
            Example: https://shop.example/paid.
        locale (None | str | Unset): `en` or `ko`; absent: the payer's browser decides.
        payment (CreatePaymentRequest | None | Unset):
        payment_id (None | str | Unset): A PENDING payment of the merchant (0x + 64 hex); or, instead, `payment`.
    """

    cancel_url: str
    success_url: str
    locale: None | str | Unset = UNSET
    payment: CreatePaymentRequest | None | Unset = UNSET
    payment_id: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.create_payment_request import CreatePaymentRequest

        cancel_url = self.cancel_url

        success_url = self.success_url

        locale: None | str | Unset
        if isinstance(self.locale, Unset):
            locale = UNSET
        else:
            locale = self.locale

        payment: dict[str, Any] | None | Unset
        if isinstance(self.payment, Unset):
            payment = UNSET
        elif isinstance(self.payment, CreatePaymentRequest):
            payment = self.payment.to_dict()
        else:
            payment = self.payment

        payment_id: None | str | Unset
        if isinstance(self.payment_id, Unset):
            payment_id = UNSET
        else:
            payment_id = self.payment_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cancelUrl": cancel_url,
                "successUrl": success_url,
            }
        )
        if locale is not UNSET:
            field_dict["locale"] = locale
        if payment is not UNSET:
            field_dict["payment"] = payment
        if payment_id is not UNSET:
            field_dict["paymentId"] = payment_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.create_payment_request import CreatePaymentRequest

        d = dict(src_dict)
        cancel_url = d.pop("cancelUrl")

        success_url = d.pop("successUrl")

        def _parse_locale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        locale = _parse_locale(d.pop("locale", UNSET))

        def _parse_payment(data: object) -> CreatePaymentRequest | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                payment_type_1 = CreatePaymentRequest.from_dict(data)

                return payment_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreatePaymentRequest | None | Unset, data)

        payment = _parse_payment(d.pop("payment", UNSET))

        def _parse_payment_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        payment_id = _parse_payment_id(d.pop("paymentId", UNSET))

        create_session_request = cls(
            cancel_url=cancel_url,
            success_url=success_url,
            locale=locale,
            payment=payment,
            payment_id=payment_id,
        )

        return create_session_request
