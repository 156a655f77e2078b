from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.card_request_card_type import CardRequestCardType

T = TypeVar("T", bound="CardRequest")


@_attrs_define
class CardRequest:
    """`POST /v1/payments/{paymentId}/card`. The card number is checked here and sent only to the gateway: Settle
    keeps the card type and the last four digits.

        Attributes:
            card_no (str): xxxx-xxxx-xxxx-xxxx, Luhn-valid. Example: 4111-1111-1111-1111.
            card_type (CardRequestCardType): SAMSUNG, KB or HYUNDAI. Example: SAMSUNG.
    """

    card_no: str
    card_type: CardRequestCardType

    def to_dict(self) -> dict[str, Any]:
        card_no = self.card_no

        card_type = self.card_type.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cardNo": card_no,
                "cardType": card_type,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        card_no = d.pop("cardNo")

        card_type = CardRequestCardType(d.pop("cardType"))

        card_request = cls(
            card_no=card_no,
            card_type=card_type,
        )

        return card_request
