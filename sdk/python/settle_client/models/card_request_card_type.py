from enum import StrEnum


class CardRequestCardType(StrEnum):
    HYUNDAI = "HYUNDAI"
    KB = "KB"
    SAMSUNG = "SAMSUNG"

    def __str__(self) -> str:
        return str(self.value)
