"""The jobs page and API: every background job's state, progress and log, with retry and cancel
(``view_jobs``; each user sees the jobs of their region, province-wide ones at province level)."""
