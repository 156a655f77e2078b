from enum import StrEnum


class CreatePaymentRequestRailType3Type1(StrEnum):
    CARD = "CARD"
    CHAIN = "CHAIN"

    def __str__(self) -> str:
        return str(self.value)
