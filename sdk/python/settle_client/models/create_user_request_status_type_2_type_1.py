from enum import StrEnum


class CreateUserRequestStatusType2Type1(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"

    def __str__(self) -> str:
        return str(self.value)
