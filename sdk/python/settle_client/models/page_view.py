from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.add_chain import AddChain


T = TypeVar("T", bound="PageView")


@_attrs_define
class PageView:
    """What the hosted page shows of a session (to whoever holds its id).

    Attributes:
        amount (str): Minor units, as a decimal string.
        cancel_url (str): Where "Cancel" sends the payer.
        currency (str):
        expired (bool):
        expires_at (str): Until when the page takes the payment (RFC 3339); past it, the session is expired.
        livemode (bool):
        merchant_name (str):
        payment_id (str):
        rail (str): `CARD` or `CHAIN`.
        session_id (str):
        status (str):
        add_chain (AddChain | None | Unset):
        chain_id (int | None | Unset):
        decimals (int | None | Unset): CHAIN: the token's decimals and address, and the chain.
        embed_origin (None | str | Unset): The merchant page embedding this checkout (`origin` asked, and on the
            merchant's `redirectHosts`): the page
            tells its outcome there (postMessage) instead of redirecting.
        locale (None | str | Unset):
        token_address (None | str | Unset):
    """

    amount: str
    cancel_url: str
    currency: str
    expired: bool
    expires_at: str
    livemode: bool
    merchant_name: str
    payment_id: str
    rail: str
    session_id: str
    status: str
    add_chain: AddChain | None | Unset = UNSET
    chain_id: int | None | Unset = UNSET
    decimals: int | None | Unset = UNSET
    embed_origin: None | str | Unset = UNSET
    locale: None | str | Unset = UNSET
    token_address: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.add_chain import AddChain

        amount = self.amount

        cancel_url = self.cancel_url

        currency = self.currency

        expired = self.expired

        expires_at = self.expires_at

        livemode = self.livemode

        merchant_name = self.merchant_name

        payment_id = self.payment_id

        rail = self.rail

        session_id = self.session_id

        status = self.status

        add_chain: dict[str, Any] | None | Unset
        if isinstance(self.add_chain, Unset):
            add_chain = UNSET
        elif isinstance(self.add_chain, AddChain):
            add_chain = self.add_chain.to_dict()
        else:
            add_chain = self.add_chain

        chain_id: int | None | Unset
        if isinstance(self.chain_id, Unset):
            chain_id = UNSET
        else:
            chain_id = self.chain_id

        decimals: int | None | Unset
        if isinstance(self.decimals, Unset):
            decimals = UNSET
        else:
            decimals = self.decimals

        embed_origin: None | str | Unset
        if isinstance(self.embed_origin, Unset):
            embed_origin = UNSET
        else:
            embed_origin = self.embed_origin

        locale: None | str | Unset
        if isinstance(self.locale, Unset):
            locale = UNSET
        else:
            locale = self.locale

        token_address: None | str | Unset
        if isinstance(self.token_address, Unset):
            token_address = UNSET
        else:
            token_address = self.token_address

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "cancelUrl": cancel_url,
                "currency": currency,
                "expired": expired,
                "expiresAt": expires_at,
                "livemode": livemode,
                "merchantName": merchant_name,
                "paymentId": payment_id,
                "rail": rail,
                "sessionId": session_id,
                "status": status,
            }
        )
        if add_chain is not UNSET:
            field_dict["addChain"] = add_chain
        if chain_id is not UNSET:
            field_dict["chainId"] = chain_id
        if decimals is not UNSET:
            field_dict["decimals"] = decimals
        if embed_origin is not UNSET:
            field_dict["embedOrigin"] = embed_origin
        if locale is not UNSET:
            field_dict["locale"] = locale
        if token_address is not UNSET:
            field_dict["tokenAddress"] = token_address

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.add_chain import AddChain

        d = dict(src_dict)
        amount = d.pop("amount")

        cancel_url = d.pop("cancelUrl")

        currency = d.pop("currency")

        expired = d.pop("expired")

        expires_at = d.pop("expiresAt")

        livemode = d.pop("livemode")

        merchant_name = d.pop("merchantName")

        payment_id = d.pop("paymentId")

        rail = d.pop("rail")

        session_id = d.pop("sessionId")

        status = d.pop("status")

        def _parse_add_chain(data: object) -> AddChain | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                add_chain_type_1 = AddChain.from_dict(data)

                return add_chain_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AddChain | None | Unset, data)

        add_chain = _parse_add_chain(d.pop("addChain", UNSET))

        def _parse_chain_id(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        chain_id = _parse_chain_id(d.pop("chainId", UNSET))

        def _parse_decimals(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        decimals = _parse_decimals(d.pop("decimals", UNSET))

        def _parse_embed_origin(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        embed_origin = _parse_embed_origin(d.pop("embedOrigin", UNSET))

        def _parse_locale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        locale = _parse_locale(d.pop("locale", UNSET))

        def _parse_token_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        token_address = _parse_token_address(d.pop("tokenAddress", UNSET))

        page_view = cls(
            amount=amount,
            cancel_url=cancel_url,
            currency=currency,
            expired=expired,
            expires_at=expires_at,
            livemode=livemode,
            merchant_name=merchant_name,
            payment_id=payment_id,
            rail=rail,
            session_id=session_id,
            status=status,
            add_chain=add_chain,
            chain_id=chain_id,
            decimals=decimals,
            embed_origin=embed_origin,
            locale=locale,
            token_address=token_address,
        )

        page_view.additional_properties = d
        return page_view

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
