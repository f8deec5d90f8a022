"""The deepgrad Playground: train small networks on 2-D data in the browser.

``deepgrad playground`` (or ``python -m deepgrad.playground``) serves a
single-page app on http://127.0.0.1:8000/; training runs in Python with
deepgrad and the page follows it over a WebSocket. The TensorFlow
Playground's controls and data sets, plus optimizers, dropout, batch norm,
softmax cross-entropy, CSV upload, training diagnostics and export.

Modules: :mod:`.state` (the settings and their validation), :mod:`.network`
(the model), :mod:`.session` (training sessions and their budget),
:mod:`.data` (points and CSV upload), :mod:`.export` and :mod:`.server`
(needs ``starlette`` and ``uvicorn``).
"""

from __future__ import annotations

from typing import Any

from .state import PlaygroundState, StateError, apply_changes, parse_query

__all__ = ["PlaygroundState", "StateError", "apply_changes", "parse_query", "main"]


def main(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> Any:
    """Serve the playground (see :func:`deepgrad.playground.server.main`)."""
    from .server import main as serve

    return serve(host=host, port=port, open_browser=open_browser)
