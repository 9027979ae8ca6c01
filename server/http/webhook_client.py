"""The HTTP client the webhook dispatcher posts with (server/domain/webhooks/dispatch.py ``Post``).

One aiohttp ClientSession for the app's life, its own connection pool, a total timeout per request;
redirects are not followed (a receiver answers, it does not send us elsewhere). The answer's body is
read and dropped (at most 64 KiB): only its status counts. Errors are named by type, never with the
URL's user info or the request's headers (they carry the signature).
"""

from __future__ import annotations

import asyncio

import aiohttp

from ..domain.webhooks.dispatch import Answer

MAX_ANSWER_BYTES = 64 * 1024


class WebhookClient:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32, limit_per_host=8),
                                                  auto_decompress=False)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        if self._session is None:
            await self.start()
        assert self._session is not None
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False,
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                await resp.content.read(MAX_ANSWER_BYTES)
                return Answer(resp.status)
        except asyncio.TimeoutError:
            return Answer(None, f"timeout after {timeout:g} s")
        except aiohttp.ClientConnectorError as exc:
            return Answer(None, f"connection failed ({type(exc.os_error).__name__})")
        except aiohttp.ClientError as exc:
            return Answer(None, type(exc).__name__)
        except (OSError, ValueError) as exc:
            return Answer(None, type(exc).__name__)
