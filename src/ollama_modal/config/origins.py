"""Where a profile value came from: the leaf types shared by loading, overrides and errors."""

from __future__ import annotations

from dataclasses import dataclass

#: A key path inside a profile, e.g. ("warm", "scaledown_window").
Key = tuple[str, ...]


@dataclass(frozen=True)
class Origin:
    kind: str  # "default" | "file" | "env" | "flag"
    source: str = ""  # file path, variable name or flag

    def __str__(self) -> str:
        return self.kind if not self.source else f"{self.kind}:{self.source}"
