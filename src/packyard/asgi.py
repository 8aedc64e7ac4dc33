"""The ASGI entry point for ``uvicorn packyard.asgi:app`` (the only import-time global)."""

from packyard.app import create_app
from packyard.settings import Settings

app = create_app(Settings())
