"""Member-written text on its way into an e-mail: no control or format characters.

A member's name or complaint reaches e-mails to other people (an invitation goes to any address,
an escalation to the managers). Control characters (newlines in a name, escape sequences) and
invisible format characters (bidirectional overrides that make text read otherwise than it is)
would let a member shape those e-mails; they are taken out where such text is rendered.
"""

import re
import unicodedata

_SPACES = re.compile(r"[ \t]+")


def _visible(char: str, keep: str) -> bool:
    return char in keep or unicodedata.category(char) not in {"Cc", "Cf"}


def plain_line(value) -> str:
    """One line: control and format characters become spaces, runs of spaces one, trimmed."""
    text = "".join(ch if _visible(ch, " ") else " " for ch in str(value or ""))
    return _SPACES.sub(" ", text).strip()


def plain_text(value) -> str:
    """Lines: as plain_line, but line breaks stay (a CR LF or CR becomes one LF)."""
    text = str(value or "").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(plain_line(line) for line in text.split("\n")).strip()
