"""Reading outside text: decode_text takes UTF-8 and UTF-16 with a byte order mark only."""

from __future__ import annotations

import pytest

from engine.core.inputs import TextDecodeError, decode_text


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16"])
def test_utf8_and_marked_utf16_are_read(codec: str) -> None:
    assert decode_text('{"name": "Müller"}'.encode(codec)) == '{"name": "Müller"}'


@pytest.mark.parametrize(
    ("raw", "offset"),
    [
        ("ab ü".encode("latin-1"), 3),
        ("ab".encode("utf-16-le"), 1),  # no byte order mark: a NUL byte
        ("ü".encode() + "ü".encode("latin-1"), 2),
        (b"\xff\xfeab\x00", 4),  # a marked UTF-16 text cut in the middle of a character
    ],
)
def test_anything_else_names_the_first_byte_that_cannot_be_read(raw: bytes, offset: int) -> None:
    with pytest.raises(TextDecodeError) as caught:
        decode_text(raw)
    assert caught.value.offset == offset
    assert f"byte {offset}" in caught.value.words.text()
