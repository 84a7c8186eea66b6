"""Write-back stage: NPS fields on Salesforce contacts/accounts and Zendesk users/organizations,
and the optional per-response history object.

Values are computed by the pure functions of :mod:`sync.fields.metrics` and
:mod:`sync.fields.values` from the state store (what goes into which field comes from
:mod:`sync.fields.fieldmap`), compared with what we last wrote, and only the differences are sent,
batched (200 records per Salesforce collection, 100 per Zendesk ``update_many`` job). A record the
system rejects is reported and the rest land.

- :mod:`.plan`: the values to write (:func:`plan_values`, pure) and the changes among them;
- :mod:`.send`: sending them and remembering what landed (:func:`write_back`);
- :mod:`.reconcile`: the nightly repair (:func:`reconcile`), which reads the Salesforce and
  Zendesk fields back and rewrites whatever differs.
"""

from sync.fields.values import truncate
from sync.stages.writeback.plan import COMMENT_FIELD_LENGTH, Plan, changes, plan_values
from sync.stages.writeback.reconcile import RECONCILE_CHUNK, reconcile
from sync.stages.writeback.send import WriteBackStats, write_back

__all__ = [
    "COMMENT_FIELD_LENGTH",
    "RECONCILE_CHUNK",
    "Plan",
    "WriteBackStats",
    "changes",
    "plan_values",
    "reconcile",
    "truncate",
    "write_back",
]
