"""Make sure the four import names this project ships are really this project's.

``rules`` is also the import name of a popular Django package, and ``sync`` or ``connectors`` are
short enough to clash too. When another installed distribution provides one of them, Python
imports whichever comes first on the path, and the daemon would fail later in a confusing way (or,
worse, run someone else's code). The command line checks once at start-up and refuses to run.
"""

from __future__ import annotations

import functools
import re
import sys
from importlib import metadata, util
from pathlib import Path

DISTRIBUTION = "nps-sync"
PACKAGES = ("sync", "rules", "connectors", "emulators")

#: What the command line exits with when the installation is unusable: the environment is
#: misconfigured (``EX_CONFIG``, :data:`sync.core.errors.EXIT_REFUSED`). Not imported from there:
#: this module must import none of the four packages it checks.
EXIT_CODE = 78


def _root() -> Path:
    """The directory holding this installation's packages (site-packages or the source tree)."""
    return Path(__file__).resolve().parents[2]


def _canonical(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@functools.cache
def installation_problem() -> str | None:
    """One line saying which package is shadowed and by what, or None when all is well."""
    root = _root()
    for name in PACKAGES:
        spec = util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin is None:
            return f"package {name!r} of {DISTRIBUTION} cannot be found; reinstall {DISTRIBUTION}"
        where = Path(origin).resolve().parent
        if where != root / name:
            return (
                f"package {name!r} is imported from {where}, not from {DISTRIBUTION} in {root}: "
                "another installed distribution shadows it; uninstall it or use a separate "
                "virtual environment"
            )
    claimed = _claimed_packages()
    for name in PACKAGES:
        others = sorted(
            {dist for dist in claimed.get(name, ()) if _canonical(dist) != DISTRIBUTION}
        )
        if others:
            return (
                f"package {name!r} of {DISTRIBUTION} is also installed by {', '.join(others)}: "
                "the two overwrite each other; uninstall one or use a separate virtual environment"
            )
    return None


#: A file list that names one of :data:`PACKAGES` as a top-level directory or module. A list
#: without a match cannot claim one, so it is never parsed (the superset is checked exactly).
_MENTIONS_PACKAGES = re.compile(r"\b(?:%s)(?:/|\.py)" % "|".join(PACKAGES))  # noqa: UP031


def _claimed_packages() -> dict[str, list[str]]:
    """Which installed distributions provide each of :data:`PACKAGES`: what
    :func:`importlib.metadata.packages_distributions` says of them, at a fraction of the cost.

    That function parses every distribution's metadata and, for those without a
    ``top_level.txt``, its whole file list, at every start (a tenth of a second in a typical
    environment). Here only the distributions that can provide one of our packages are parsed.
    """
    claimed: dict[str, list[str]] = {}
    for dist in metadata.distributions():
        provided = set((dist.read_text("top_level.txt") or "").split())
        if not provided:
            listing = (
                dist.read_text("RECORD")
                or dist.read_text("installed-files.txt")
                or dist.read_text("SOURCES.txt")
                or ""
            )
            if not _MENTIONS_PACKAGES.search(listing):
                continue
            provided = {
                f.parts[0] if len(f.parts) > 1 else f.with_suffix("").name
                for f in dist.files or ()
                if f.suffix == ".py"
            }
        for name in PACKAGES:
            if name in provided:
                claimed.setdefault(name, []).append(dist.metadata["Name"])
    return claimed


def refuse_shadowed_packages() -> None:
    """Exit with one line on stderr when :func:`installation_problem` finds one."""
    problem = installation_problem()
    if problem is not None:
        print(f"nps-sync: {problem}", file=sys.stderr)
        raise SystemExit(EXIT_CODE)
