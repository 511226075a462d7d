"""PostgreSQL check: connect, run a trivial query (`SELECT 1` by default), measure latency.

Each run opens a fresh connection, so it sees what a new client of the service would see
(refused, authentication failures, `too many connections`), not a connection kept healthy by
the daemon.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Literal

from pydantic import Field

from health_checks import registry
from health_checks.base import CheckConfig, CheckKind, CheckResult, HealthCheck, elapsed_ms
from supervisor.core.redaction import redact_text


class PostgresCheckConfig(CheckConfig):
    type: Literal["postgres"] = "postgres"
    dsn: str = Field("postgresql://postgres@127.0.0.1:5432/postgres",
                     description="postgresql://user[:password]@host:port/database")
    query: str = Field("SELECT 1", description="A cheap query that must succeed.")


@registry.register("postgres")
class PostgresCheck(HealthCheck):
    type_name: ClassVar[str] = "postgres"
    config_model: ClassVar[type[CheckConfig]] = PostgresCheckConfig
    config: PostgresCheckConfig

    async def run(self) -> CheckResult:
        import asyncpg  # ~3 MB: only a daemon with a postgres check pays for it

        cfg = self.config
        safe = redact_text(cfg.dsn)
        started = time.perf_counter()
        conn: asyncpg.Connection | None = None
        try:
            async with asyncio.timeout(cfg.timeout_s):
                conn = await asyncpg.connect(cfg.dsn, timeout=cfg.timeout_s)
                await conn.fetchval(cfg.query)
        except TimeoutError:
            return self.result(CheckKind.STALLED, elapsed_ms(started),
                               f"postgres {safe} did not answer within {cfg.timeout:.0f} ms")
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            return self.result(CheckKind.REFUSED, elapsed_ms(started),
                               f"cannot connect to postgres {safe}: "
                               + ("connection refused" if isinstance(exc, ConnectionRefusedError)
                                  else str(exc)))
        except (asyncpg.ConnectionDoesNotExistError, ConnectionResetError,
                asyncpg.exceptions.ConnectionFailureError) as exc:
            return self.result(CheckKind.CONNECTION_LOST, elapsed_ms(started),
                               f"postgres {safe} dropped the connection: {_msg(exc)}")
        except asyncpg.TooManyConnectionsError as exc:
            return self.result(CheckKind.RESOURCE_PRESSURE, elapsed_ms(started),
                               f"postgres {safe}: {_msg(exc)}", resource="fds")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            return self.result(CheckKind.UNHEALTHY, elapsed_ms(started),
                               f"postgres {safe}: {_msg(exc)}")
        finally:
            if conn is not None:
                conn.terminate()  # no goodbye round trip: it could hang on a stalled server
        return self.result(CheckKind.HEALTHY, elapsed_ms(started))


def _msg(exc: BaseException) -> str:
    return redact_text(str(exc) or type(exc).__name__)
