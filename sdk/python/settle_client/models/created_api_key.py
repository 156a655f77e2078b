from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreatedApiKey")


@_attrs_define
class CreatedApiKey:
    """A new API key, shown this once.

    Attributes:
        created_at (str):
        id (str): `key_<n>`. Example: key_2.
        key_prefix (str): The key's first characters, to tell keys apart (8 for keys made before modes, 12 since).
            Example: sk_live_4f1a.
        livemode (bool): Whether the key opens live mode (false: test mode).
        api_key (str):
        revoked_at (None | str | Unset):
    """

    created_at: str
    id: str
    key_prefix: str
    livemode: bool
    api_key: str
    revoked_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        id = self.id

        key_prefix = self.key_prefix

        livemode = self.livemode

        api_key = self.api_key

        revoked_at: None | str | Unset
        if isinstance(self.revoked_at, Unset):
            revoked_at = UNSET
        else:
            revoked_at = self.revoked_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "createdAt": created_at,
                "id": id,
                "keyPrefix": key_prefix,
                "livemode": livemode,
                "apiKey": api_key,
            }
        )
        if revoked_at is not UNSET:
            field_dict["revokedAt"] = revoked_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = d.pop("createdAt")

        id = d.pop("id")

        key_prefix = d.pop("keyPrefix")

        livemode = d.pop("livemode")

        api_key = d.pop("apiKey")

        def _parse_revoked_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        revoked_at = _parse_revoked_at(d.pop("revokedAt", UNSET))

        created_api_key = cls(
            created_at=created_at,
            id=id,
            key_prefix=key_prefix,
            livemode=livemode,
            api_key=api_key,
            revoked_at=revoked_at,
        )

        created_api_key.additional_properties = d
        return created_api_key

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
