from enum import StrEnum


class ListPaymentsStatus(StrEnum):
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"

    def __str__(self) -> str:
        return str(self.value)
