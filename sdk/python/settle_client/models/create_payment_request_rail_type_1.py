from enum import StrEnum


class CreatePaymentRequestRailType1(StrEnum):
    CARD = "CARD"
    CHAIN = "CHAIN"

    def __str__(self) -> str:
        return str(self.value)
