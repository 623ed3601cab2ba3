"""Layer ``arena`` — run your own arena: a vote store, a voting page, a live leaderboard.

* :mod:`prefkit.arena.models` — the SQLAlchemy tables (tasks, annotators, votes);
* :mod:`prefkit.arena.store` — :class:`~prefkit.arena.store.ArenaStore`: open a store by URL
  (SQLite file by default, PostgreSQL via ``postgresql+psycopg://…``), migrate it with the
  Alembic revisions shipped in ``prefkit/arena/migrations``, add tasks and annotators, record
  votes (one per annotator and task, enforced by the database), export a
  :class:`~prefkit.data.PreferenceDataset`;
* :mod:`prefkit.arena.choose` — which task an annotator sees next (uniform, uncertainty,
  information gain);
* :mod:`prefkit.arena.live` — the leaderboard, refitted in a background thread from the current
  ratings (warm start), never in the voting path;
* :mod:`prefkit.arena.app` / :mod:`prefkit.arena.server` — the FastAPI pages and their uvicorn
  start (``prefkit arena serve``).

SQLAlchemy, Alembic, FastAPI and Jinja2 are imported only by the modules that need them (the
``arena`` extra: ``pip install 'prefkit[arena]'``).  See docs/arena.md.
"""
