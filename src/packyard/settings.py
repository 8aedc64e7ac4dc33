"""Settings: one typed object, read from the environment (``PACKYARD_*``) and an optional TOML file.

How to add an option: add a field to ``Settings`` with a default and a one-line description; it is then
readable as ``PACKYARD_<FIELD>`` and as ``<field> = ...`` in the TOML file named by ``PACKYARD_CONFIG``.
Never build ``Settings()`` inside a request path: the composition root (``container.py``) holds one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PACKYARD_", extra="ignore")

    data_dir: Path = Field(Path("./packyard-data"), description="Folder for the SQLite file, blobs and the key")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in the data folder")
    storage_url: str | None = Field(None, description="Blob store URL (file:///path); default: data folder")
    public_url: str | None = Field(None, description="Absolute base URL when served behind a proxy")
    secret_key: SecretStr | None = Field(None, description="Signs download URLs; default: kept in the data folder")
    index_max_age: int = Field(30, description="Cache-Control max-age (s) on channel indexes")
    signed_url_ttl: int = Field(600, description="Lifetime (s) of signed download and upload URLs")
    max_metadata_field: int = Field(64 * 1024, description="Largest accepted metadata field (bytes)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("PACKYARD_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # -- derived values -------------------------------------------------------------------------------

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'packyard.db').resolve()}"

    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "blobs").resolve().as_uri()

    def resolved_secret_key(self) -> bytes:
        """The signing key: from the settings, else a random key kept in the data folder.

        Keeping it in the data folder means every worker started on that folder signs alike, and
        signed URLs survive a restart.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(secrets.token_hex(32))
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)  # first writer wins; a racing worker reads the winner's key
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip().encode()

    def dump(self) -> dict[str, Any]:
        return self.model_dump(exclude={"secret_key"})
