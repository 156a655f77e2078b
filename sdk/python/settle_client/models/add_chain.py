from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.native_currency import NativeCurrency


T = TypeVar("T", bound="AddChain")


@_attrs_define
class AddChain:
    """A chain as `wallet_addEthereumChain` takes it (EIP-3085).

    Attributes:
        chain_id (str): 0x and hex.
        chain_name (str):
        native_currency (NativeCurrency):
        rpc_urls (list[str]):
        block_explorer_urls (list[str] | Unset):
    """

    chain_id: str
    chain_name: str
    native_currency: NativeCurrency
    rpc_urls: list[str]
    block_explorer_urls: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        chain_id = self.chain_id

        chain_name = self.chain_name

        native_currency = self.native_currency.to_dict()

        rpc_urls = self.rpc_urls

        block_explorer_urls: list[str] | Unset = UNSET
        if not isinstance(self.block_explorer_urls, Unset):
            block_explorer_urls = self.block_explorer_urls

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "chainId": chain_id,
                "chainName": chain_name,
                "nativeCurrency": native_currency,
                "rpcUrls": rpc_urls,
            }
        )
        if block_explorer_urls is not UNSET:
            field_dict["blockExplorerUrls"] = block_explorer_urls

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.native_currency import NativeCurrency

        d = dict(src_dict)
        chain_id = d.pop("chainId")

        chain_name = d.pop("chainName")

        native_currency = NativeCurrency.from_dict(d.pop("nativeCurrency"))

        rpc_urls = cast(list[str], d.pop("rpcUrls"))

        block_explorer_urls = cast(list[str], d.pop("blockExplorerUrls", UNSET))

        add_chain = cls(
            chain_id=chain_id,
            chain_name=chain_name,
            native_currency=native_currency,
            rpc_urls=rpc_urls,
            block_explorer_urls=block_explorer_urls,
        )

        add_chain.additional_properties = d
        return add_chain

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
