"""The remembering reader gives pypinyin's own readings, whatever the text and however often it is read."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin

from registry.enforcement.pinyin import readings

# Han characters (common, rare, polyphonic, in dictionary phrases), Latin letters, digits and punctuation.
_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_TEXT = st.text(
    st.one_of(_HAN, st.sampled_from("单尉长重行乐朝曾解仇区张三欧阳娜yZ0·- 　"), st.characters(max_codepoint=0x24F)),
    max_size=8,
)


def _pypinyin(text: str) -> list[str]:
    return lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: list(chars))


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_readings_equal_pypinyins_own(text: str) -> None:
    assert readings(text) == _pypinyin(text)
    assert readings(text) == _pypinyin(text)  # the second read comes from the memo


def test_phrases_read_as_phrases_and_latin_names_pass_through() -> None:
    assert readings("长江") == ["chang", "jiang"] == _pypinyin("长江")  # the phrase's reading, not 长's first
    assert readings("重庆银行") == _pypinyin("重庆银行")
    assert readings("Smith三") == ["S", "m", "i", "t", "h", "san"]
    first = readings("张三")
    first.append("changed")  # a caller's list is its own
    assert readings("张三") == ["zhang", "san"]
