"""``core.lookups``: the doubled text that lets a trigram index serve two-character terms."""

from hypothesis import given
from hypothesis import strategies as st

from core.lookups import doubled

TEXT = st.text(alphabet="ab王诺%_", max_size=8)  # few letters: repeats and runs, where a misaligned match could hide


@given(TEXT, TEXT)
def test_a_text_contains_a_term_exactly_when_its_doubled_text_contains_the_doubled_term(text, term):
    assert (term in text) == (doubled(term) in doubled(text))


def test_doubled():
    assert doubled("王诺") == "王王诺诺" and doubled("") == ""
