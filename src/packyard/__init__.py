"""packyard: a self-hosted package repository (conda channels, PyPI indexes, the anaconda.org API)."""

__version__ = "0.1.0"
