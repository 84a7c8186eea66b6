"""An in-memory, thread-safe emulator of the Salesforce APIs nps-sync uses.

Serve it with :class:`emulators.base.EmulatorServer` and point the unmodified
simple-salesforce client at it through :func:`connectors.transport.make_session`.
What each documented behaviour rests on is in ``emulators/FIDELITY.md``.
"""

from emulators.salesforce.app import (
    DEFAULT_PASSWORD,
    DEFAULT_TOKEN,
    DEFAULT_USERNAME,
    SalesforceEmulator,
)

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_TOKEN", "DEFAULT_USERNAME", "SalesforceEmulator"]
