"""Views per stakeholder: the frontline call list, the team leads' weekly digest and the
executive report.

Gathering (:mod:`sync.reports.answers`) is the only part that reads the store; the views are
pure functions of the answers it returns, so each figure can be checked by hand and printed by
the CLI with ``--json`` exactly as the report shows it.
"""
