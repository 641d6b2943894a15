"""canids command-line tools: ``canids-cache``, ``canids-profile``, ``canids-train``,
``canids-submit``, ``canids-tune`` and ``canids-jobs`` (the console scripts of
``pyproject.toml``). The commands are the interface; this package exports no Python API.
"""

from __future__ import annotations

__version__ = "0.10.4"

__all__: list[str] = ["__version__"]
