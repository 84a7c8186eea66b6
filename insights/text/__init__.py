"""Comment text analytics: sentiment, the customer's themes, and what is new among the comments.

Pure functions and small objects over plain strings; the only files read are the packaged model
and vocabulary. The taxonomy's YAML text is handed in by the caller.
"""

from insights.text.analyzer import MODEL_CHOICES, ModelChoice, TextAnalyzer, TextResult
from insights.text.errors import ModelUnavailableError, Problem, TaxonomyError, TextError
from insights.text.taxonomy import Taxonomy, Theme, parse_taxonomy
from insights.text.themes import ThemeMatch
from insights.text.training import LabelledComment

__all__ = [
    "MODEL_CHOICES",
    "LabelledComment",
    "ModelChoice",
    "ModelUnavailableError",
    "Problem",
    "Taxonomy",
    "TaxonomyError",
    "TextAnalyzer",
    "TextError",
    "TextResult",
    "Theme",
    "ThemeMatch",
    "parse_taxonomy",
]
