"""How every receive contender stops: at the peer's clean close."""

from __future__ import annotations

from ..errors import ConnectionClosed, IncompleteFrame


class clean_eof:
    """Ends the body's loop when the peer closes between frames (ConnectionClosed),
    not inside one (IncompleteFrame)."""

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        # a bool, not None: type checkers then know the body may end here
        return (
            kind is not None
            and issubclass(kind, ConnectionClosed)
            and not issubclass(kind, IncompleteFrame)
        )
