"""Survey sources: where NPS responses come from (Delighted, CSV/JSONL files, webhooks).

Every source implements :class:`SurveySource` and returns plain
:class:`~connectors.models.SurveyResponse` records; a record it cannot parse becomes a
:class:`~connectors.models.SourceProblem` instead of an exception.
"""

from connectors.surveys.delighted import DelightedSource
from connectors.surveys.delighted_format import parse_delighted_response, parse_delighted_webhook
from connectors.surveys.files import FileSource
from connectors.surveys.source import SourcePage, SurveySource

__all__ = [
    "DelightedSource",
    "FileSource",
    "SourcePage",
    "SurveySource",
    "parse_delighted_response",
    "parse_delighted_webhook",
]
