"""Set-up checks of the survey sources: secrets readable, the API answering, files readable.

Each Delighted or Typeform source costs one request (the first page, one response long) to prove
that the host is reachable and accepts the key (and, for Typeform, knows the form). A failure names
the host and the cause, with what to do.
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

from connectors.errors import ConfigError, ConnectorError, DeferError, RetryableError
from connectors.surveys import DelightedSource
from connectors.surveys.files import SUFFIXES
from connectors.transport import CallCounter, make_session
from sync.checks import Finding, unusable
from sync.core.config import (
    Config,
    DelightedSourceConfig,
    FileSourceConfig,
    Secret,
    TypeformSourceConfig,
)
from sync.core.errors import ConfigFileError


def check_sources(config: Config, counter: CallCounter) -> list[Finding]:
    """One or more findings per configured source, in the config's order."""
    findings: list[Finding] = []
    for spec in config.sources:
        if isinstance(spec, DelightedSourceConfig):
            findings.append(_check_delighted(config, spec, counter))
        elif isinstance(spec, TypeformSourceConfig):
            findings.append(_check_typeform(config, spec, counter))
        else:
            findings.append(_check_file(spec))
    if not findings:
        findings.append(
            Finding("sources", "sources", "warning", "no survey source is configured",
                    "add a delighted, typeform or file source under `sources:`")
        )  # fmt: skip
    return findings


def _check_delighted(config: Config, spec: DelightedSourceConfig, counter: CallCounter) -> Finding:
    system, host = spec.name, urlsplit(spec.base_url).hostname or spec.base_url
    try:
        key = spec.api_key.resolve(f"sources.{spec.name}.api_key")
    except ConfigFileError as error:
        fix = "set the variable or create the file the config names"
        return Finding(system, "API key", "error", str(error), fix)
    session = make_session(config.loopback_routes, counter=counter, label="delighted")
    source = DelightedSource(
        key, base_url=spec.base_url, session=session, per_page=1, name=spec.name
    )
    try:
        source.fetch(updated_since=None, updated_until=int(time.time()), page=1)
    except ConfigError as error:
        fix = f"check the API key (Delighted: Settings > API) that {_where(spec.api_key)} holds"
        return Finding(system, f"API at {host}", "error", f"{host} refused: {error}", fix)
    except (RetryableError, DeferError) as error:
        fix = f"check that this machine reaches {host} (DNS, proxy, firewall), then run again"
        return Finding(system, f"API at {host}", "error", unusable(host, error), fix)
    except ConnectorError as error:
        return Finding(system, f"API at {host}", "error", f"{host}: {error}")
    finally:
        session.close()
    return Finding(system, f"API at {host}", "ok", "reachable; the API key is accepted")


def _check_typeform(config: Config, spec: TypeformSourceConfig, counter: CallCounter) -> Finding:
    from sync.app.runtime import build_typeform

    system, host = spec.name, urlsplit(spec.base_url).hostname or spec.base_url
    session = make_session(config.loopback_routes, counter=counter, label="typeform")
    try:
        source = build_typeform(config, spec, session)
    except ConfigFileError as error:
        session.close()
        fix = "set the variable or create the file the config names"
        return Finding(system, "token", "error", str(error), fix)
    try:
        source.fetch(since=None, until=int(time.time()), page_size=1)
    except ConfigError as error:
        fix = (
            f"check the personal access token (responses:read) that {_where(spec.token)} holds "
            f"and that form {spec.form_id} belongs to its account"
        )
        return Finding(system, f"API at {host}", "error", f"{host} refused: {error}", fix)
    except (RetryableError, DeferError) as error:
        fix = f"check that this machine reaches {host} (DNS, proxy, firewall), then run again"
        return Finding(system, f"API at {host}", "error", unusable(host, error), fix)
    except ConnectorError as error:
        return Finding(system, f"API at {host}", "error", f"{host}: {error}")
    finally:
        session.close()
    message = f"reachable; the token reads form {spec.form_id}"
    return Finding(system, f"API at {host}", "ok", message)


def _where(secret: Secret) -> str:
    return f"${secret.env}" if secret.env else str(secret.file)


def _check_file(spec: FileSourceConfig) -> Finding:
    system, path = spec.name or f"file:{spec.path.name}", spec.path
    if path.suffix.lower() not in SUFFIXES:
        fix = f"export the responses as {' or '.join(SUFFIXES)}"
        return Finding(system, str(path), "error", "unsupported file type", fix)
    if not path.exists():
        fix = "check the path (relative paths are read from the config file's folder)"
        return Finding(system, str(path), "error", "the file does not exist", fix)
    if not path.is_file() or not os.access(path, os.R_OK):
        fix = "make it a regular file that this user may read"
        return Finding(system, str(path), "error", "the file cannot be read", fix)
    return Finding(system, str(path), "ok", f"readable, {path.stat().st_size:,} bytes")
