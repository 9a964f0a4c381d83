"""The endpoints, one module per concern; :data:`ROUTERS` is what the app includes."""

from __future__ import annotations

from craftpix.web.routes import files, jobs, patterns, reference, uploads

ROUTERS = [reference.router, uploads.router, patterns.router, files.router, jobs.router]

__all__ = ["ROUTERS"]
