"""Per-session credentials: Username(553)/Password(554) on Logon.

The password is read from an environment variable or a file named in the config, never from
the YAML. Comparison is constant-time, and the caller answers every failure with the same
text so a client cannot learn which part was wrong.
"""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

AUTH_FAILED_TEXT = "Authentication failed"


class ConfigError(Exception):
    """A configuration problem, with a message that names the file/section and key."""


@dataclass(frozen=True)
class Credentials:
    username: str | None
    password: str = field(repr=False)

    def check(self, username: str | None, password: str | None) -> bool:
        ok_user = self.username is None or hmac.compare_digest(
            (username or "").encode(), self.username.encode())
        ok_pass = password is not None and hmac.compare_digest(
            password.encode(), self.password.encode())
        return ok_user and ok_pass


def load_credentials(section: Mapping, where: str, base_dir: Path,
                     environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from ``password_env`` / ``password_file`` (None when neither is set)."""
    env = os.environ if environ is None else environ
    if "password" in section:
        raise ConfigError(f"{where}: 'password' must not be in the YAML; "
                          "use password_env (environment variable) or password_file")
    username = section.get("username")
    if section.get("password_env"):
        name = str(section["password_env"])
        if name not in env or not env[name]:
            raise ConfigError(f"{where}: environment variable {name} (password_env) is not set")
        password = env[name]
    elif section.get("password_file"):
        path = Path(str(section["password_file"]))
        if not path.is_absolute():
            path = base_dir / path
        try:
            password = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read password_file {path}: {exc.strerror}") from None
        if not password:
            raise ConfigError(f"{where}: password_file {path} is empty")
    else:
        if username:
            raise ConfigError(f"{where}: username given without password_env/password_file")
        return None
    return Credentials(str(username) if username is not None else None, password)
