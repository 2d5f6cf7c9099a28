"""The search index of quick points on SQLite: an FTS5 table with the trigram tokenizer, so any
substring of three characters or more (Chinese included: no word breaks needed) is answered from
the index. Other databases search ``QuickPoint.search_text`` (see service.search)."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_search USING fts5(body, tokenize='trigram')"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        with schema_editor.connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS knowledge_search")


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
