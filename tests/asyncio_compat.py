"""What the suite needs from asyncio 3.11+ on Python 3.10 too (requires-python >= 3.10).

``within(seconds)`` is ``asyncio.timeout`` (3.11+) or async-timeout's ``timeout`` (3.10), the
same context manager. On 3.10 it raises ``asyncio.TimeoutError``, which is not the builtin
``TimeoutError`` there (it is from 3.11 on): catch ``asyncio.TimeoutError`` in tests.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from asyncio import timeout as within
else:  # pragma: no cover - exercised by CI's Python 3.10 run
    from async_timeout import timeout as within

__all__ = ["within"]
