"""``craftpix serve``: a local web app over the library API (:mod:`craftpix.api`).

The app holds no pipeline logic: it turns form values into a
:class:`craftpix.api.PatternRequest`, edits go through :mod:`craftpix.edit`, files come from
:func:`craftpix.api.export`. :func:`create_app` builds the ASGI app from :class:`WebSettings`.
FastAPI is imported only when the app is built, so ``import craftpix.web`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from craftpix.web.settings import WebSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["WebSettings", "create_app"]


def create_app(settings: WebSettings | None = None, **kwargs: Any) -> FastAPI:
    """The web app for ``settings`` (defaults: :class:`WebSettings`); see
    :func:`craftpix.web.app.create_app` for the keyword arguments."""
    from craftpix.web.app import create_app as _create

    return _create(settings, **kwargs)
