"""aiohttp's server logger, except that a malformed request is the client's mistake."""

from __future__ import annotations

import logging
import sys
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError


class ClientErrorLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp logs every request it cannot parse (a NUL in a header, an 8 KB URL, raw UTF-8 in
    the path) with `logger.exception`: an ERROR with a traceback, which the daemon would then
    store as its own high-severity failure. Those answer 400 by themselves; here they become
    one DEBUG line. Anything else (a real failure in the server) still logs as before.
    """

    def __init__(self) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kw: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 400) < 500:
            self.logger.debug("malformed request refused (%s %s): %s", exc.code,
                              type(exc).__name__, str(exc.message)[:200])
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kw)
