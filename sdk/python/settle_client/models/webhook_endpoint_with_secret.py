from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="WebhookEndpointWithSecret")


@_attrs_define
class WebhookEndpointWithSecret:
    """An endpoint with its signing secret, shown once (at creation and at each rotation).

    Attributes:
        created_at (str):
        enabled (bool):
        events (list[str]): Event types it receives: a type (`payment.completed`), a prefix (`payment.*`) or `*`.
            Example: ['payment.*'].
        id (str):  Example: we_0192f3a4b5c67d8e9f0a1b2c3d4e5f60.
        livemode (bool): Whether the endpoint receives live events (false: test-mode ones; each mode has its own
            endpoints).
        updated_at (str):
        url (str):  Example: https://shop.example/webhooks/settle.
        secret (str): `whsec_` + base64 of the key: verify each delivery's `webhook-signature` with it (Standard
            Webhooks). Example: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwJ0cJ0uW2aQk=.
        description (None | str | Unset):
        disabled_reason (None | str | Unset): Why Settle disabled it (`failing`); absent when enabled or disabled by the
            merchant.
        previous_secret_expires_at (None | str | Unset): During a rotation: until when the previous secret still signs
            alongside the new one.
    """

    created_at: str
    enabled: bool
    events: list[str]
    id: str
    livemode: bool
    updated_at: str
    url: str
    secret: str
    description: None | str | Unset = UNSET
    disabled_reason: None | str | Unset = UNSET
    previous_secret_expires_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        enabled = self.enabled

        events = self.events

        id = self.id

        livemode = self.livemode

        updated_at = self.updated_at

        url = self.url

        secret = self.secret

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        disabled_reason: None | str | Unset
        if isinstance(self.disabled_reason, Unset):
            disabled_reason = UNSET
        else:
            disabled_reason = self.disabled_reason

        previous_secret_expires_at: None | str | Unset
        if isinstance(self.previous_secret_expires_at, Unset):
            previous_secret_expires_at = UNSET
        else:
            previous_secret_expires_at = self.previous_secret_expires_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "createdAt": created_at,
                "enabled": enabled,
                "events": events,
                "id": id,
                "livemode": livemode,
                "updatedAt": updated_at,
                "url": url,
                "secret": secret,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if disabled_reason is not UNSET:
            field_dict["disabledReason"] = disabled_reason
        if previous_secret_expires_at is not UNSET:
            field_dict["previousSecretExpiresAt"] = previous_secret_expires_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = d.pop("createdAt")

        enabled = d.pop("enabled")

        events = cast(list[str], d.pop("events"))

        id = d.pop("id")

        livemode = d.pop("livemode")

        updated_at = d.pop("updatedAt")

        url = d.pop("url")

        secret = d.pop("secret")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_disabled_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        disabled_reason = _parse_disabled_reason(d.pop("disabledReason", UNSET))

        def _parse_previous_secret_expires_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        previous_secret_expires_at = _parse_previous_secret_expires_at(
            d.pop("previousSecretExpiresAt", UNSET)
        )

        webhook_endpoint_with_secret = cls(
            created_at=created_at,
            enabled=enabled,
            events=events,
            id=id,
            livemode=livemode,
            updated_at=updated_at,
            url=url,
            secret=secret,
            description=description,
            disabled_reason=disabled_reason,
            previous_secret_expires_at=previous_secret_expires_at,
        )

        webhook_endpoint_with_secret.additional_properties = d
        return webhook_endpoint_with_secret

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
