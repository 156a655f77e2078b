from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="SessionView")


@_attrs_define
class SessionView:
    """A session as the merchant sees it.

    Attributes:
        cancel_url (str):
        created_at (str):
        expires_at (str): Until when the page takes the payment (RFC 3339).
        id (str): `cs_` and 32 hex digits: the payer's key to the payment (keep it out of logs and analytics). Example:
            cs_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b.
        payment_id (str):
        success_url (str):
        url (str): The page to send the payer to.
        locale (None | str | Unset):
    """

    cancel_url: str
    created_at: str
    expires_at: str
    id: str
    payment_id: str
    success_url: str
    url: str
    locale: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cancel_url = self.cancel_url

        created_at = self.created_at

        expires_at = self.expires_at

        id = self.id

        payment_id = self.payment_id

        success_url = self.success_url

        url = self.url

        locale: None | str | Unset
        if isinstance(self.locale, Unset):
            locale = UNSET
        else:
            locale = self.locale

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cancelUrl": cancel_url,
                "createdAt": created_at,
                "expiresAt": expires_at,
                "id": id,
                "paymentId": payment_id,
                "successUrl": success_url,
                "url": url,
            }
        )
        if locale is not UNSET:
            field_dict["locale"] = locale

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        cancel_url = d.pop("cancelUrl")

        created_at = d.pop("createdAt")

        expires_at = d.pop("expiresAt")

        id = d.pop("id")

        payment_id = d.pop("paymentId")

        success_url = d.pop("successUrl")

        url = d.pop("url")

        def _parse_locale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        locale = _parse_locale(d.pop("locale", UNSET))

        session_view = cls(
            cancel_url=cancel_url,
            created_at=created_at,
            expires_at=expires_at,
            id=id,
            payment_id=payment_id,
            success_url=success_url,
            url=url,
            locale=locale,
        )

        session_view.additional_properties = d
        return session_view

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
