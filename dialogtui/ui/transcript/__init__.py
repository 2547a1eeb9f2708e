"""The chat transcript, split as Textual splits `TextArea` from its `document/` package:

* `document.py`: the model (entries, parts and blocks, the height index, versions); no Textual.
* `layout.py`: wrapping and laying out entries into lines (through `ui/render.py`).
* `widget.py`: the thin Line-API widget (scrolling, painting, timers).
"""

from .document import (
    BlockSource,
    EntryState,
    HeightIndex,
    NoticeVariant,
    OlderEntry,
    TranscriptDocument,
)
from .widget import Transcript

__all__ = [
    "BlockSource",
    "EntryState",
    "HeightIndex",
    "NoticeVariant",
    "OlderEntry",
    "Transcript",
    "TranscriptDocument",
]
