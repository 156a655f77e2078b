from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.refund_typed_data_permit_type_0 import RefundTypedDataPermitType0
    from ..models.refund_typed_data_refund_terms import RefundTypedDataRefundTerms
    from ..models.refund_typed_data_transaction import RefundTypedDataTransaction


T = TypeVar("T", bound="RefundTypedData")


@_attrs_define
class RefundTypedData:
    """What `GET /v1/refunds/{id}/typed-data` answers.

    Attributes:
        allowance (str):
        amount (str): Decimal strings, in the token's minor units.
        balance (str):
        chain_id (int):
        deadline (int): Until when (Unix seconds) the terms, the permit and the transaction below are usable; `submit`
            takes it back.
        fee_returned (str): The part of `amount` the treasury pays back (the refund's share of the fee; "0" when none):
            the owner pays
            `amount` less this.
        gateway (str):
        owner (str): The payment's recipient: the refund's source, whose allowance to the gateway pays it.
        refund_id (str):
        refund_terms (RefundTypedDataRefundTerms): The refund's terms for the owner to sign (`eth_signTypedData_v4`, the
            gateway's domain): its authorization of
            this one refund. Post the signature to `POST /v1/refunds/{id}/submit` as `recipientSignature`.
        status (str):
        token (str):
        transaction (RefundTypedDataTransaction): Or: the owner sends this transaction itself (paying its gas; its
            allowance must cover the refund).
        permit (None | RefundTypedDataPermitType0 | Unset): When the allowance is short: the token's EIP-2612 permit for
            the owner to sign, raising the gateway's
            allowance by the refund's amount (post it as `permit`). Null when the allowance covers the refund, or the
            token has no permit.
    """

    allowance: str
    amount: str
    balance: str
    chain_id: int
    deadline: int
    fee_returned: str
    gateway: str
    owner: str
    refund_id: str
    refund_terms: RefundTypedDataRefundTerms
    status: str
    token: str
    transaction: RefundTypedDataTransaction
    permit: None | RefundTypedDataPermitType0 | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.refund_typed_data_permit_type_0 import RefundTypedDataPermitType0

        allowance = self.allowance

        amount = self.amount

        balance = self.balance

        chain_id = self.chain_id

        deadline = self.deadline

        fee_returned = self.fee_returned

        gateway = self.gateway

        owner = self.owner

        refund_id = self.refund_id

        refund_terms = self.refund_terms.to_dict()

        status = self.status

        token = self.token

        transaction = self.transaction.to_dict()

        permit: dict[str, Any] | None | Unset
        if isinstance(self.permit, Unset):
            permit = UNSET
        elif isinstance(self.permit, RefundTypedDataPermitType0):
            permit = self.permit.to_dict()
        else:
            permit = self.permit

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "allowance": allowance,
                "amount": amount,
                "balance": balance,
                "chainId": chain_id,
                "deadline": deadline,
                "feeReturned": fee_returned,
                "gateway": gateway,
                "owner": owner,
                "refundId": refund_id,
                "refundTerms": refund_terms,
                "status": status,
                "token": token,
                "transaction": transaction,
            }
        )
        if permit is not UNSET:
            field_dict["permit"] = permit

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.refund_typed_data_permit_type_0 import RefundTypedDataPermitType0
        from ..models.refund_typed_data_refund_terms import RefundTypedDataRefundTerms
        from ..models.refund_typed_data_transaction import RefundTypedDataTransaction

        d = dict(src_dict)
        allowance = d.pop("allowance")

        amount = d.pop("amount")

        balance = d.pop("balance")

        chain_id = d.pop("chainId")

        deadline = d.pop("deadline")

        fee_returned = d.pop("feeReturned")

        gateway = d.pop("gateway")

        owner = d.pop("owner")

        refund_id = d.pop("refundId")

        refund_terms = RefundTypedDataRefundTerms.from_dict(d.pop("refundTerms"))

        status = d.pop("status")

        token = d.pop("token")

        transaction = RefundTypedDataTransaction.from_dict(d.pop("transaction"))

        def _parse_permit(data: object) -> None | RefundTypedDataPermitType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                permit_type_0 = RefundTypedDataPermitType0.from_dict(data)

                return permit_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RefundTypedDataPermitType0 | Unset, data)

        permit = _parse_permit(d.pop("permit", UNSET))

        refund_typed_data = cls(
            allowance=allowance,
            amount=amount,
            balance=balance,
            chain_id=chain_id,
            deadline=deadline,
            fee_returned=fee_returned,
            gateway=gateway,
            owner=owner,
            refund_id=refund_id,
            refund_terms=refund_terms,
            status=status,
            token=token,
            transaction=transaction,
            permit=permit,
        )

        refund_typed_data.additional_properties = d
        return refund_typed_data

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
