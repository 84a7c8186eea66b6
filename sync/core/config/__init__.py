"""The nps-sync configuration file: sections, secrets, cross-section checks and the loader.

- :mod:`~sync.core.config.base`: the strict section base and how validators report problems;
- :mod:`~sync.core.config.secrets`: ``{env: NAME}`` / ``{file: PATH}`` secrets;
- :mod:`~sync.core.config.salesforce`, :mod:`~sync.core.config.zendesk`: the two systems;
- :mod:`~sync.core.config.writeback`: ``write_back``, generated from :mod:`sync.core.catalogue`;
- :mod:`~sync.core.config.model`: the top level and the smaller sections;
- :mod:`~sync.core.config.checks`: checks that compare sections;
- :mod:`~sync.core.config.loader`: YAML to a validated :class:`Config`, errors at file:line:col.

Secrets never appear in the file itself; they are read only when a connector is built.
"""

from sync.core.config.loader import config_diagnostics, load_config, parse_config
from sync.core.config.model import (
    BusinessHoursConfig,
    Config,
    DelightedSourceConfig,
    EmailConfig,
    FileSourceConfig,
    LoopConfig,
    LoopMirror,
    LoopSilence,
    LoopSla,
    MetricsConfig,
    RoutingConfig,
    ScheduleConfig,
    SourceConfig,
    StateConfig,
    TypeformHiddenFields,
    TypeformSourceConfig,
    ViewsConfig,
    WebhooksConfig,
)
from sync.core.config.salesforce import (
    AUTH_REQUIREMENTS,
    DEFAULT_MATCH_ORDER,
    MatchStep,
    SalesforceApi,
    SalesforceAuth,
    SalesforceConfig,
    SalesforceFields,
    SalesforceMatching,
    SalesforceTasks,
)
from sync.core.config.secrets import ENV_OR_FILE, Secret
from sync.core.config.writeback import (
    AccountFieldMap,
    ContactFieldMap,
    HistoryConfig,
    HistoryFieldMap,
    MetricFieldMap,
    OrganizationFieldMap,
    SalesforceWriteBack,
    UserFieldMap,
    WriteBackConfig,
    ZendeskWriteBack,
)
from sync.core.config.zendesk import (
    OrganizationSource,
    ZendeskAuth,
    ZendeskConfig,
    ZendeskFields,
    ZendeskMatching,
    ZendeskRateLimit,
    ZendeskTickets,
    ZendeskTracking,
)

__all__ = [
    "AUTH_REQUIREMENTS",
    "DEFAULT_MATCH_ORDER",
    "ENV_OR_FILE",
    "AccountFieldMap",
    "BusinessHoursConfig",
    "Config",
    "ContactFieldMap",
    "DelightedSourceConfig",
    "EmailConfig",
    "FileSourceConfig",
    "HistoryConfig",
    "HistoryFieldMap",
    "LoopConfig",
    "LoopMirror",
    "LoopSilence",
    "LoopSla",
    "MatchStep",
    "MetricFieldMap",
    "MetricsConfig",
    "OrganizationFieldMap",
    "OrganizationSource",
    "RoutingConfig",
    "SalesforceApi",
    "SalesforceAuth",
    "SalesforceConfig",
    "SalesforceFields",
    "SalesforceMatching",
    "SalesforceTasks",
    "SalesforceWriteBack",
    "ScheduleConfig",
    "Secret",
    "SourceConfig",
    "StateConfig",
    "TypeformHiddenFields",
    "TypeformSourceConfig",
    "UserFieldMap",
    "ViewsConfig",
    "WebhooksConfig",
    "WriteBackConfig",
    "ZendeskAuth",
    "ZendeskConfig",
    "ZendeskFields",
    "ZendeskMatching",
    "ZendeskRateLimit",
    "ZendeskTickets",
    "ZendeskTracking",
    "ZendeskWriteBack",
    "config_diagnostics",
    "load_config",
    "parse_config",
]
