"""Safety checks made before the daemon trusts its settings or its services.json."""

from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import stat
from pathlib import Path

from supervisor.config.settings import Settings

MIN_TOKEN_LENGTH = 16


class UnsafeSetup(Exception):
    """The daemon refuses to start (or to load a file) this way; the text says how to fix it."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name other than localhost may resolve anywhere
        return False


def check_bind(settings: Settings) -> None:
    """Off loopback, anyone who can reach the port could restart services: demand a token."""
    if is_loopback(settings.host):
        return
    token = settings.api_token.get_secret_value().strip() if settings.api_token else ""
    if not token:
        raise UnsafeSetup(
            f"the API would listen on {settings.host!r}, which is not loopback, without an API "
            "token; set SOULFRA_API_TOKEN (e.g. `openssl rand -hex 32`) or listen on 127.0.0.1")
    if len(token) < MIN_TOKEN_LENGTH:
        raise UnsafeSetup(f"SOULFRA_API_TOKEN is {len(token)} characters; off loopback it must "
                          f"have at least {MIN_TOKEN_LENGTH} (e.g. `openssl rand -hex 32`)")


def check_config_file(path: str | Path) -> None:
    """services.json names the commands the daemon runs: only its owner may change it.

    Refused: a file writable by others, or by a group with members besides its owner; a file
    owned by someone other than root or the daemon's user; a directory others could replace it
    in. A missing file is left to the loader, which says so.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return
    fix = f"chmod go-w {path}"
    if st.st_mode & stat.S_IWOTH:
        raise UnsafeSetup(f"{path} is writable by every user ({_mode(st.st_mode)}) and it "
                          f"defines commands this daemon runs; refusing it (fix: {fix})")
    if st.st_mode & stat.S_IWGRP and not _private_group(st.st_uid, st.st_gid):
        raise UnsafeSetup(f"{path} is writable by group {_group(st.st_gid)} "
                          f"({_mode(st.st_mode)}) and it defines commands this daemon runs; "
                          f"refusing it (fix: {fix})")
    if st.st_uid not in (0, os.geteuid()):
        raise UnsafeSetup(f"{path} belongs to {_user(st.st_uid)}, not to root or to the user "
                          f"this daemon runs as ({_user(os.geteuid())}); refusing it "
                          f"(fix: chown {_user(os.geteuid())} {path})")
    parent = path.resolve().parent
    try:
        dst = parent.stat()
    except OSError:
        return
    # In a directory others may write (without the sticky bit), they can rename a file of
    # their own over services.json.
    shared = dst.st_mode & stat.S_IWOTH or (dst.st_mode & stat.S_IWGRP
                                            and not _private_group(dst.st_uid, dst.st_gid))
    if shared and not dst.st_mode & stat.S_ISVTX:
        raise UnsafeSetup(f"{parent} is writable by other users ({_mode(dst.st_mode)}), who "
                          f"could replace {path.name}; refusing it (fix: chmod go-w {parent})")


def _private_group(uid: int, gid: int) -> bool:
    """A user's own group with nobody else in it (the usual umask 002 setup) is harmless."""
    try:
        group = grp.getgrgid(gid)
        owner = pwd.getpwuid(uid)
    except KeyError:
        return False
    others = [m for m in group.gr_mem if m != owner.pw_name]
    return owner.pw_gid == gid and not others


def _mode(mode: int) -> str:
    return stat.filemode(mode)


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
