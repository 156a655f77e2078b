from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateApiKeyRequest")


@_attrs_define
class CreateApiKeyRequest:
    """`POST /v1/api-keys`: nothing, or the mode of the key.

    Attributes:
        livemode (bool | None | Unset): The new key's mode (default: the caller's). A live key may make a test key; a
            test key makes test keys only.
    """

    livemode: bool | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        livemode: bool | None | Unset
        if isinstance(self.livemode, Unset):
            livemode = UNSET
        else:
            livemode = self.livemode

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if livemode is not UNSET:
            field_dict["livemode"] = livemode

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_livemode(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        livemode = _parse_livemode(d.pop("livemode", UNSET))

        create_api_key_request = cls(
            livemode=livemode,
        )

        return create_api_key_request
