"""Dashboard tokens work on both backends (see tests/workspaces/people.py)."""

from tests.workspaces.people import settings as settings
