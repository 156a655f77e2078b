from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.stuck_nonce import StuckNonce


T = TypeVar("T", bound="ChainHealth")


@_attrs_define
class ChainHealth:
    """
    Attributes:
        chain_id (int):
        low_balance (bool): The relayer's balance is under the chain's `low_balance_wei`, or a node refused its
            transaction for
            insufficient funds: fund it.
        pending_relays (int): Relayed transactions sent and not yet mined.
        relayer (str):
        status (str): ok, or degraded: the last call found none of the chain's RPC endpoints answering, or the relayer
            cannot send
            (a node refused its transaction for insufficient funds; a transaction is still unmined after every
            replacement allowed). Chain payments wait; the other rails go on.
        test_network (bool): A test network: only test-mode payments use it.
        head (int | None | Unset): The chain's head block (null until the watcher reached the node).
        reason (None | str | Unset): Why the chain is degraded.
        relayer_balance_wei (None | str | Unset): Decimal wei.
        sending_paused (None | str | Unset): Why the relayer sends nothing new now (a node refused a transaction for
            insufficient funds; sending resumes
            once the balance grows).
        stuck_nonce (None | StuckNonce | Unset):
        unreachable_since (None | str | Unset): Since when (RFC 3339) no endpoint has answered.
        watcher_cursor (int | None | Unset): The last block the watcher read.
        watcher_lag_blocks (int | None | Unset):
    """

    chain_id: int
    low_balance: bool
    pending_relays: int
    relayer: str
    status: str
    test_network: bool
    head: int | None | Unset = UNSET
    reason: None | str | Unset = UNSET
    relayer_balance_wei: None | str | Unset = UNSET
    sending_paused: None | str | Unset = UNSET
    stuck_nonce: None | StuckNonce | Unset = UNSET
    unreachable_since: None | str | Unset = UNSET
    watcher_cursor: int | None | Unset = UNSET
    watcher_lag_blocks: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.stuck_nonce import StuckNonce

        chain_id = self.chain_id

        low_balance = self.low_balance

        pending_relays = self.pending_relays

        relayer = self.relayer

        status = self.status

        test_network = self.test_network

        head: int | None | Unset
        if isinstance(self.head, Unset):
            head = UNSET
        else:
            head = self.head

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        relayer_balance_wei: None | str | Unset
        if isinstance(self.relayer_balance_wei, Unset):
            relayer_balance_wei = UNSET
        else:
            relayer_balance_wei = self.relayer_balance_wei

        sending_paused: None | str | Unset
        if isinstance(self.sending_paused, Unset):
            sending_paused = UNSET
        else:
            sending_paused = self.sending_paused

        stuck_nonce: dict[str, Any] | None | Unset
        if isinstance(self.stuck_nonce, Unset):
            stuck_nonce = UNSET
        elif isinstance(self.stuck_nonce, StuckNonce):
            stuck_nonce = self.stuck_nonce.to_dict()
        else:
            stuck_nonce = self.stuck_nonce

        unreachable_since: None | str | Unset
        if isinstance(self.unreachable_since, Unset):
            unreachable_since = UNSET
        else:
            unreachable_since = self.unreachable_since

        watcher_cursor: int | None | Unset
        if isinstance(self.watcher_cursor, Unset):
            watcher_cursor = UNSET
        else:
            watcher_cursor = self.watcher_cursor

        watcher_lag_blocks: int | None | Unset
        if isinstance(self.watcher_lag_blocks, Unset):
            watcher_lag_blocks = UNSET
        else:
            watcher_lag_blocks = self.watcher_lag_blocks

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "chainId": chain_id,
                "lowBalance": low_balance,
                "pendingRelays": pending_relays,
                "relayer": relayer,
                "status": status,
                "testNetwork": test_network,
            }
        )
        if head is not UNSET:
            field_dict["head"] = head
        if reason is not UNSET:
            field_dict["reason"] = reason
        if relayer_balance_wei is not UNSET:
            field_dict["relayerBalanceWei"] = relayer_balance_wei
        if sending_paused is not UNSET:
            field_dict["sendingPaused"] = sending_paused
        if stuck_nonce is not UNSET:
            field_dict["stuckNonce"] = stuck_nonce
        if unreachable_since is not UNSET:
            field_dict["unreachableSince"] = unreachable_since
        if watcher_cursor is not UNSET:
            field_dict["watcherCursor"] = watcher_cursor
        if watcher_lag_blocks is not UNSET:
            field_dict["watcherLagBlocks"] = watcher_lag_blocks

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.stuck_nonce import StuckNonce

        d = dict(src_dict)
        chain_id = d.pop("chainId")

        low_balance = d.pop("lowBalance")

        pending_relays = d.pop("pendingRelays")

        relayer = d.pop("relayer")

        status = d.pop("status")

        test_network = d.pop("testNetwork")

        def _parse_head(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        head = _parse_head(d.pop("head", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_relayer_balance_wei(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        relayer_balance_wei = _parse_relayer_balance_wei(
            d.pop("relayerBalanceWei", UNSET)
        )

        def _parse_sending_paused(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sending_paused = _parse_sending_paused(d.pop("sendingPaused", UNSET))

        def _parse_stuck_nonce(data: object) -> None | StuckNonce | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                stuck_nonce_type_1 = StuckNonce.from_dict(data)

                return stuck_nonce_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | StuckNonce | Unset, data)

        stuck_nonce = _parse_stuck_nonce(d.pop("stuckNonce", UNSET))

        def _parse_unreachable_since(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        unreachable_since = _parse_unreachable_since(d.pop("unreachableSince", UNSET))

        def _parse_watcher_cursor(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        watcher_cursor = _parse_watcher_cursor(d.pop("watcherCursor", UNSET))

        def _parse_watcher_lag_blocks(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        watcher_lag_blocks = _parse_watcher_lag_blocks(d.pop("watcherLagBlocks", UNSET))

        chain_health = cls(
            chain_id=chain_id,
            low_balance=low_balance,
            pending_relays=pending_relays,
            relayer=relayer,
            status=status,
            test_network=test_network,
            head=head,
            reason=reason,
            relayer_balance_wei=relayer_balance_wei,
            sending_paused=sending_paused,
            stuck_nonce=stuck_nonce,
            unreachable_since=unreachable_since,
            watcher_cursor=watcher_cursor,
            watcher_lag_blocks=watcher_lag_blocks,
        )

        chain_health.additional_properties = d
        return chain_health

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
