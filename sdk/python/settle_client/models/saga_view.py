from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.saga_view_pattern_type_1 import SagaViewPatternType1
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.step_view import StepView


T = TypeVar("T", bound="SagaView")


@_attrs_define
class SagaView:
    """A purchase saga (`transactionId`), its status and the results of its steps.

    Attributes:
        created_at (str):
        current_step (str):
        order_id (str):
        pattern (None | SagaViewPatternType1):
        status (str): PENDING, IN_PROGRESS, COMPLETED, FAILED, COMPENSATING or COMPENSATED.
        steps (list[StepView]):
        transaction_id (str):
        updated_at (str):
        user_id (str):
        version (int):
        error (None | str | Unset):
        livemode (bool | Unset): Whether the saga is live (false: a test-mode order's).
    """

    created_at: str
    current_step: str
    order_id: str
    pattern: None | SagaViewPatternType1
    status: str
    steps: list[StepView]
    transaction_id: str
    updated_at: str
    user_id: str
    version: int
    error: None | str | Unset = UNSET
    livemode: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        current_step = self.current_step

        order_id = self.order_id

        pattern: None | str
        if isinstance(self.pattern, SagaViewPatternType1):
            pattern = self.pattern.value
        else:
            pattern = self.pattern

        status = self.status

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        transaction_id = self.transaction_id

        updated_at = self.updated_at

        user_id = self.user_id

        version = self.version

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        livemode = self.livemode

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "createdAt": created_at,
                "currentStep": current_step,
                "orderId": order_id,
                "pattern": pattern,
                "status": status,
                "steps": steps,
                "transactionId": transaction_id,
                "updatedAt": updated_at,
                "userId": user_id,
                "version": version,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if livemode is not UNSET:
            field_dict["livemode"] = livemode

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.step_view import StepView

        d = dict(src_dict)
        created_at = d.pop("createdAt")

        current_step = d.pop("currentStep")

        order_id = d.pop("orderId")

        def _parse_pattern(data: object) -> None | SagaViewPatternType1:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pattern_type_1 = SagaViewPatternType1(data)

                return pattern_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SagaViewPatternType1, data)

        pattern = _parse_pattern(d.pop("pattern"))

        status = d.pop("status")

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = StepView.from_dict(steps_item_data)

            steps.append(steps_item)

        transaction_id = d.pop("transactionId")

        updated_at = d.pop("updatedAt")

        user_id = d.pop("userId")

        version = d.pop("version")

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        livemode = d.pop("livemode", UNSET)

        saga_view = cls(
            created_at=created_at,
            current_step=current_step,
            order_id=order_id,
            pattern=pattern,
            status=status,
            steps=steps,
            transaction_id=transaction_id,
            updated_at=updated_at,
            user_id=user_id,
            version=version,
            error=error,
            livemode=livemode,
        )

        saga_view.additional_properties = d
        return saga_view

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
