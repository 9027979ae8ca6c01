"""``embedOrigins``: the request field both APIs take for a room's allowed framing origins
(server/origins.py; docs/embed.md "Allowed origins")."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import AfterValidator, Field

from ...origins import MAX_ORIGINS, OriginError, parse_origins


def _check(values: list[str]) -> list[str]:
    try:
        return parse_origins(values)
    except OriginError as exc:
        raise ValueError(str(exc)) from None


EmbedOrigins = Annotated[list[str], AfterValidator(_check)]
DESCRIPTION = ("Antechamber extension: origins (scheme://host[:port]) whose pages may frame this room's page, "
               f"besides the server's --embed-origin list; at most {MAX_ORIGINS}; [] allows none")


def embed_origins_field() -> Any:
    return Field(None, max_length=MAX_ORIGINS * 4, json_schema_extra={
        "description": DESCRIPTION, "examples": [["https://app.example.com"]]})


OptionalEmbedOrigins = Optional[EmbedOrigins]
