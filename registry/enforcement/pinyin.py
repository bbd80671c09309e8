"""Tone-less pinyin readings of Han text, as pypinyin's `lazy_pinyin(text, style=Style.NORMAL)` gives them.

pypinyin builds a converter for every call and runs each segment (a character, or a phrase of its
dictionary) through its whole style pipeline: about 16 µs a character, most of the blacklist name key's
cost in a registration (scripts/bench.py eligibility register). Here the text is cut as lazy_pinyin cuts
it, one converter serves every call, and each Han segment's reading is remembered. Segments come from the
dictionaries, not from the names, so the memo holds characters and phrases (a few thousand cover most
names), whatever names go through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from pypinyin import Style
from pypinyin.constants import RE_HANS
from pypinyin.converter import UltimateConverter
from pypinyin.seg.simpleseg import seg


def _keep(chars: str) -> list[str]:
    """Characters without a reading (Latin letters, digits) are kept as they are."""
    return list(chars)


_CONVERTER = UltimateConverter()  # lazy_pinyin's own, with its defaults


def _convert(words: str) -> list[list[str]]:
    """lazy_pinyin's conversion of one segment: a list of readings per character (no heteronyms)."""
    return _CONVERTER.convert(words, Style.NORMAL, False, _keep, True)  # type: ignore[no-any-return]


@lru_cache(maxsize=65_536)
def _segment(words: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(r) for r in _convert(words))


def readings(text: str) -> list[str]:
    """One tone-less syllable per Han character (a phrase of pypinyin's dictionary read as a phrase);
    other characters one by one, unchanged."""
    syllables: list[str] = []
    for words in seg(text):  # what lazy_pinyin converts: Han runs cut by the phrase dictionary, and the rest
        # Only Han segments are remembered: anything else may be a Latin name.
        converted: Sequence[Sequence[str]] = _segment(words) if RE_HANS.match(words) else _convert(words)
        for reading in converted:
            syllables.extend(reading)
    return syllables
