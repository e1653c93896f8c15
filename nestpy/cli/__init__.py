"""The ``nestpy`` command line: ``new``, ``generate``/``g``, ``start`` and ``info``.

The console script is ``nestpy = "nestpy.cli.main:main"``. Nothing here is imported by the
framework itself; every command imports what it needs when it runs, so ``nestpy g ...`` never
loads python-socketio or aiohttp.
"""

__all__: list[str] = []
