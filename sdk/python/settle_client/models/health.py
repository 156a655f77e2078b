from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.cache_health_view import CacheHealthView
    from ..models.chain_health import ChainHealth
    from ..models.database_health import DatabaseHealth
    from ..models.gateway_health import GatewayHealth


T = TypeVar("T", bound="Health")


@_attrs_define
class Health:
    """
    Attributes:
        cache (CacheHealthView):
        chains (list[ChainHealth]): Each configured chain, as its watcher and relayer last saw it.
        database (DatabaseHealth):
        gateway (GatewayHealth):
        status (str): ok; degraded (Settle serves, but a part is impaired: a chain whose RPC endpoints all fail, or
            Redis
            unreachable; the part says why); unavailable (the database does not answer: 503).
        test_gateway (GatewayHealth):
        read_only (None | str | Unset): Why writes are refused now (503 `read_only`): `configured`, `admin` or
            `detected` (the database refuses
            writes); absent when Settle takes writes.
    """

    cache: CacheHealthView
    chains: list[ChainHealth]
    database: DatabaseHealth
    gateway: GatewayHealth
    status: str
    test_gateway: GatewayHealth
    read_only: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cache = self.cache.to_dict()

        chains = []
        for chains_item_data in self.chains:
            chains_item = chains_item_data.to_dict()
            chains.append(chains_item)

        database = self.database.to_dict()

        gateway = self.gateway.to_dict()

        status = self.status

        test_gateway = self.test_gateway.to_dict()

        read_only: None | str | Unset
        if isinstance(self.read_only, Unset):
            read_only = UNSET
        else:
            read_only = self.read_only

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cache": cache,
                "chains": chains,
                "database": database,
                "gateway": gateway,
                "status": status,
                "testGateway": test_gateway,
            }
        )
        if read_only is not UNSET:
            field_dict["readOnly"] = read_only

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.cache_health_view import CacheHealthView
        from ..models.chain_health import ChainHealth
        from ..models.database_health import DatabaseHealth
        from ..models.gateway_health import GatewayHealth

        d = dict(src_dict)
        cache = CacheHealthView.from_dict(d.pop("cache"))

        chains = []
        _chains = d.pop("chains")
        for chains_item_data in _chains:
            chains_item = ChainHealth.from_dict(chains_item_data)

            chains.append(chains_item)

        database = DatabaseHealth.from_dict(d.pop("database"))

        gateway = GatewayHealth.from_dict(d.pop("gateway"))

        status = d.pop("status")

        test_gateway = GatewayHealth.from_dict(d.pop("testGateway"))

        def _parse_read_only(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        read_only = _parse_read_only(d.pop("readOnly", UNSET))

        health = cls(
            cache=cache,
            chains=chains,
            database=database,
            gateway=gateway,
            status=status,
            test_gateway=test_gateway,
            read_only=read_only,
        )

        health.additional_properties = d
        return health

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
