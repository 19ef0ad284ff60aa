"""Where USERNAME starts in a qwinsta header of a language the parser does not know (issue 22, sampler survivors):
27 columns before where the ID heading ends, unless that falls inside the first word (a header whose spaces were
lost), then where the second word starts. One column each side of the first word's end."""

from __future__ import annotations

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _parsers as p


def header(id_end: int) -> str:
    """A first word ending at column 3, a second word at column 10, the ID heading ending at ``id_end``."""
    line = " QQ       QQQQQQQQ"
    return line + " " * (id_end - 2 - len(line)) + "ИД  QQQQQ"


@pytest.mark.parametrize(("id_end", "user_column"), [(30, 10), (31, 4), (35, 8)])
def test_the_user_column_from_the_id_heading_unless_inside_the_first_word(id_end, user_column):
    line = header(id_end)
    assert p._tokens(line)[2] == (id_end - 2, "ИД")  # the heading is two columns wide
    assert p.qwinsta_header(line) == p.QwinstaHeader(None, user_column)
