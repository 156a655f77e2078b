from enum import StrEnum


class Simulated(StrEnum):
    DECLINE = "decline"
    EXPIRE = "expire"
    PROCESS = "process"
    REORG = "reorg"
    SUCCEED = "succeed"

    def __str__(self) -> str:
        return str(self.value)
