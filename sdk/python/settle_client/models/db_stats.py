from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.pool_stats import PoolStats
    from ..models.statement_stats import StatementStats
    from ..models.table_stats import TableStats


T = TypeVar("T", bound="DbStats")


@_attrs_define
class DbStats:
    """The database as `GET /v1/admin/db` and `settle db stats` show it.

    Attributes:
        backend (str): sqlite, postgres or mysql.
        pool (PoolStats): The connection pool (SQLite: the read pool; its writer is one more connection).
        statements (list[StatementStats]): This instance's 50 statements with the most total time: runs, slow runs, p50
            and p95.
        tables (list[TableStats]):
    """

    backend: str
    pool: PoolStats
    statements: list[StatementStats]
    tables: list[TableStats]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        backend = self.backend

        pool = self.pool.to_dict()

        statements = []
        for statements_item_data in self.statements:
            statements_item = statements_item_data.to_dict()
            statements.append(statements_item)

        tables = []
        for tables_item_data in self.tables:
            tables_item = tables_item_data.to_dict()
            tables.append(tables_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "backend": backend,
                "pool": pool,
                "statements": statements,
                "tables": tables,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.pool_stats import PoolStats
        from ..models.statement_stats import StatementStats
        from ..models.table_stats import TableStats

        d = dict(src_dict)
        backend = d.pop("backend")

        pool = PoolStats.from_dict(d.pop("pool"))

        statements = []
        _statements = d.pop("statements")
        for statements_item_data in _statements:
            statements_item = StatementStats.from_dict(statements_item_data)

            statements.append(statements_item)

        tables = []
        _tables = d.pop("tables")
        for tables_item_data in _tables:
            tables_item = TableStats.from_dict(tables_item_data)

            tables.append(tables_item)

        db_stats = cls(
            backend=backend,
            pool=pool,
            statements=statements,
            tables=tables,
        )

        db_stats.additional_properties = d
        return db_stats

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
