"""Survey sources: where NPS responses come from (Delighted, Typeform, CSV/JSONL files,
webhooks).

Every source implements :class:`SurveySource` and returns plain
:class:`~connectors.models.SurveyResponse` records; a record it cannot parse becomes a
:class:`~connectors.models.SourceProblem` instead of an exception.
"""

from connectors.surveys.delighted import DelightedSource
from connectors.surveys.delighted_format import parse_delighted_response, parse_delighted_webhook
from connectors.surveys.delighted_people import DelightedPeople, ScheduledSurvey
from connectors.surveys.files import FileSource
from connectors.surveys.source import SourcePage, SurveySource, close_pages
from connectors.surveys.typeform import TypeformSource
from connectors.surveys.typeform_format import (
    TypeformMapping,
    parse_typeform_response,
    parse_typeform_webhook,
)

__all__ = [
    "DelightedPeople",
    "DelightedSource",
    "FileSource",
    "ScheduledSurvey",
    "SourcePage",
    "SurveySource",
    "TypeformMapping",
    "TypeformSource",
    "close_pages",
    "parse_delighted_response",
    "parse_delighted_webhook",
    "parse_typeform_response",
    "parse_typeform_webhook",
]
