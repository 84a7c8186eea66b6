"""Whether a comment is written in English, the one language the lexicon and the model read.

VADER's lexicon and all-MiniLM-L6-v2 were built from English text: on a Spanish or German comment
they give a weak or wrong sentiment, and the n-grams find themes in look-alike words. A comment is
taken as not English when most of its letters are of another script (Cyrillic, Arabic, CJK, ...)
or when it has at least two common words of another European language (Spanish, German, French,
Portuguese, Italian, Dutch) and more of them than of English ones. Short or unclear comments count
as English: a guess that way costs nothing the analysis would not already do.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+")

#: Frequent English words (function words and survey staples).
ENGLISH = frozenset(
    _WORD.findall(
        """the and to was is it of for my you your with not this that are have has had but they
        we our at be been very just can will were would what there get got don t i me from all
        too"""
    )
)
#: Frequent words of other European languages that are not also common English words.
OTHER = frozenset(
    _WORD.findall(
        """el la los las que del y muy pero con por para una uno es fue nos mi su más nada
    nadie bien está estaba lo se todo porque también gracias servicio vuelo
    der das und ist nicht ein eine einen mit sehr auf für ich wir sie den dem zu von auch aber
    noch nach wurde hatte kein keine immer wieder schlecht gut alles
    le les des et est une pas du au avec pour très mais nous vous je il sur été était sans mon ma
    ne ce qui
    os em uma não com muito foi mas meu minha nós é da bom boa
    il gli della che è non molto sono stato mio
    het een en niet met zeer ik wij heel voor"""
    )
)
#: Below this many words a comment is not judged.
MIN_WORDS = 3


def is_english(text: str) -> bool:
    """False when ``text`` is plainly in another language; True otherwise."""
    if not text.isascii():  # ASCII letters are Latin: no need to look at each
        letters = [c for c in text if c.isalpha()]
        if not letters:
            return True
        latin = sum(1 for c in letters if c.isascii() or _is_latin(c))
        if latin < len(letters) / 2:
            return False
    words = _WORD.findall(text.casefold())
    if len(words) < MIN_WORDS:
        return True
    english = sum(1 for w in words if w in ENGLISH)
    other = sum(1 for w in words if w in OTHER)
    return not (other >= 2 and other > english)


def _is_latin(char: str) -> bool:
    return "LATIN" in unicodedata.name(char, "")
