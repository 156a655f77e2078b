from enum import StrEnum


class PlaceOrderRequestPatternType2Type1(StrEnum):
    CHOREOGRAPHY = "choreography"
    ORCHESTRATION = "orchestration"

    def __str__(self) -> str:
        return str(self.value)
