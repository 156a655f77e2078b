from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.audit_actor import AuditActor
    from ..models.audit_entry_changes import AuditEntryChanges


T = TypeVar("T", bound="AuditEntry")


@_attrs_define
class AuditEntry:
    """One audited change.

    Attributes:
        action (str): What was done: an event type (`payment.cancelled`) or an action (`webhook_endpoint.created`).
            Example: payment.cancelled.
        actor (AuditActor):
        changes (AuditEntryChanges): The new values the change set (never a secret or card data).
        created_at (str):
        digest (str): SHA-256 (hex) of the change as recorded (for an event, of the event as queued).
        id (str): `aud_<n>`. Example: aud_42.
        livemode (bool): Whether it was done in live mode (false: with a test key, to a test object).
        target_id (str): The id of what it was done to.
        client_address (None | str | Unset):
        request_id (None | str | Unset):
    """

    action: str
    actor: AuditActor
    changes: AuditEntryChanges
    created_at: str
    digest: str
    id: str
    livemode: bool
    target_id: str
    client_address: None | str | Unset = UNSET
    request_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        action = self.action

        actor = self.actor.to_dict()

        changes = self.changes.to_dict()

        created_at = self.created_at

        digest = self.digest

        id = self.id

        livemode = self.livemode

        target_id = self.target_id

        client_address: None | str | Unset
        if isinstance(self.client_address, Unset):
            client_address = UNSET
        else:
            client_address = self.client_address

        request_id: None | str | Unset
        if isinstance(self.request_id, Unset):
            request_id = UNSET
        else:
            request_id = self.request_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action": action,
                "actor": actor,
                "changes": changes,
                "createdAt": created_at,
                "digest": digest,
                "id": id,
                "livemode": livemode,
                "targetId": target_id,
            }
        )
        if client_address is not UNSET:
            field_dict["clientAddress"] = client_address
        if request_id is not UNSET:
            field_dict["requestId"] = request_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.audit_actor import AuditActor
        from ..models.audit_entry_changes import AuditEntryChanges

        d = dict(src_dict)
        action = d.pop("action")

        actor = AuditActor.from_dict(d.pop("actor"))

        changes = AuditEntryChanges.from_dict(d.pop("changes"))

        created_at = d.pop("createdAt")

        digest = d.pop("digest")

        id = d.pop("id")

        livemode = d.pop("livemode")

        target_id = d.pop("targetId")

        def _parse_client_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        client_address = _parse_client_address(d.pop("clientAddress", UNSET))

        def _parse_request_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        request_id = _parse_request_id(d.pop("requestId", UNSET))

        audit_entry = cls(
            action=action,
            actor=actor,
            changes=changes,
            created_at=created_at,
            digest=digest,
            id=id,
            livemode=livemode,
            target_id=target_id,
            client_address=client_address,
            request_id=request_id,
        )

        audit_entry.additional_properties = d
        return audit_entry

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
