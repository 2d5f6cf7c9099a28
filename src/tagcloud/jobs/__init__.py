"""Background jobs and schedules on a real queue (Huey: SQLite storage embedded, Redis at scale).

``store`` keeps each job's record (state, progress, log, attempts) in a database of its own;
``queue`` is the Huey instance that carries job ids to workers; ``registry`` is where systems
declare their job kinds and schedules; ``worker`` runs them (``tagcloud worker``). See docs/jobs.md."""
