"""Language detection of article text (lingua, restricted to the languages of our sources)."""

from __future__ import annotations

from functools import cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

SUPPORTED = (Language.ENGLISH, Language.RUSSIAN, Language.ARMENIAN, Language.AZERBAIJANI,
             Language.GEORGIAN, Language.TURKISH)
_CODES = {lang.iso_code_639_1.name.lower(): lang for lang in SUPPORTED}
_MAX_CHARS = 2000  # enough for a confident answer; keeps detection fast on long articles
_MIN_CONFIDENCE = 0.3  # below this, the text is too short or mixed to say
_HINT_RATIO = 0.5  # a feed's declared language wins when it is at least half as likely as the best


@cache
def _detector() -> LanguageDetector:
    # models load on first use: a language told apart by its script alone (ru, hy, ka) needs none
    return LanguageDetectorBuilder.from_languages(*SUPPORTED).build()


def _normalise_hint(hint: str | None) -> str | None:
    """'ru-RU', 'RU', 'ru_ru' -> 'ru'; None unless it is a supported language."""
    if not hint:
        return None
    code = hint.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in _CODES else None


def detect_language(text: str, hint: str | None = None) -> str | None:
    """ISO 639-1 code of the text's language (en, ru, hy, az, ka, tr), or None if unsure.

    ``hint`` (e.g. the feed's declared language) is used when the text is too short to
    tell, and breaks near-ties between close languages such as Azerbaijani and Turkish.
    """
    hint_code = _normalise_hint(hint)
    sample = text[:_MAX_CHARS].strip()
    if not sample:
        return hint_code
    values = _detector().compute_language_confidence_values(sample)
    if not values:
        return hint_code
    best = values[0]
    if hint_code is not None:
        hinted = next((v.value for v in values if v.language is _CODES[hint_code]), 0.0)
        if hinted >= _HINT_RATIO * best.value:
            return hint_code
    if best.value < _MIN_CONFIDENCE:
        return hint_code
    return best.language.iso_code_639_1.name.lower()
