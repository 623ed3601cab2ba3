"""Test helpers shared across test folders: ``from helpers.judge_helpers import fastchat_pair``.

``tests/`` is on ``sys.path`` for every test (tests/conftest.py puts it there), so these modules
import the same way from any folder, run alone, in any order, or under pytest-xdist. A helper used
by one folder only stays in that folder; one imported from a second folder moves here.
"""
