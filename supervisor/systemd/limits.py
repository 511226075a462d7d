"""The daemon's open-file limit: raised at start, and rationed between the API and the checks.

The usual soft RLIMIT_NOFILE is 1024, low for a daemon that holds a socket for every check in
flight, every API client and every adopted process. The soft limit is raised to the hard one
(capped at FD_LIMIT_CAP, so that children that still use select() are not handed a huge
limit); under systemd the unit's LimitNOFILE= sets both. The API gets at most a quarter of
what is left, so its clients can never take the descriptors the checks need.
"""

from __future__ import annotations

import resource

from loguru import logger

FD_LIMIT_CAP = 65536
API_SHARE = 4  # the API may use 1/API_SHARE of the fd limit
MAX_API_CONNECTIONS = 1024


def raise_fd_limit(cap: int = FD_LIMIT_CAP) -> tuple[int, int]:
    """Raise the soft limit towards the hard one; the (soft, hard) limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            logger.warning("cannot raise the open-file limit from {} to {}: {}", soft, target,
                           exc)
            return soft, hard
        logger.info("raised the open-file limit from {} to {} (hard limit {})", soft, target,
                    hard)
        return target, hard
    return soft, hard


def api_connection_cap(soft_limit: int, configured: int = MAX_API_CONNECTIONS) -> int:
    """How many API connections may be open at once under this fd limit."""
    return max(8, min(configured, soft_limit // API_SHARE))


def api_accept_burst(soft_limit: int) -> int:
    """How many connections the API accepts at one wake-up (each holds an fd until admitted
    or refused, a few loop iterations later)."""
    return max(4, min(64, soft_limit // 16))
