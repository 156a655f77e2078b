from enum import StrEnum


class OrderCardCardType(StrEnum):
    HYUNDAI = "HYUNDAI"
    KB = "KB"
    SAMSUNG = "SAMSUNG"

    def __str__(self) -> str:
        return str(self.value)
