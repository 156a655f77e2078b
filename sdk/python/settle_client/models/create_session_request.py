from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateSessionRequest")


@_attrs_define
class CreateSessionRequest:
    """`POST /v1/checkout-sessions`.

    Attributes:
        cancel_url (str): Where "Cancel" sends the payer (the same rules). Example: https://shop.example/cart.
        payment_id (str): A PENDING payment of the merchant (0x + 64 hex).
        success_url (str): Where the page sends the payer once the payment is COMPLETED (https, on one of the merchant's
            `redirectHosts`; http only on localhost). Settle adds `session_id`, `payment_id`, `timestamp` and `signature`.
            Example: https://shop.example/paid.
        locale (None | str | Unset): `en` or `ko`; absent: the payer's browser decides.
    """

    cancel_url: str
    payment_id: str
    success_url: str
    locale: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        cancel_url = self.cancel_url

        payment_id = self.payment_id

        success_url = self.success_url

        locale: None | str | Unset
        if isinstance(self.locale, Unset):
            locale = UNSET
        else:
            locale = self.locale

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cancelUrl": cancel_url,
                "paymentId": payment_id,
                "successUrl": success_url,
            }
        )
        if locale is not UNSET:
            field_dict["locale"] = locale

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        cancel_url = d.pop("cancelUrl")

        payment_id = d.pop("paymentId")

        success_url = d.pop("successUrl")

        def _parse_locale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        locale = _parse_locale(d.pop("locale", UNSET))

        create_session_request = cls(
            cancel_url=cancel_url,
            payment_id=payment_id,
            success_url=success_url,
            locale=locale,
        )

        return create_session_request
