"""The governed catalogue: sources, attributes (属性), tags (标签), scenarios (运营场景), saved groups.

Definitions are YAML files in ``tags/definitions/`` (every ``*.yaml`` in the folder is read, so other
teams add their own files, e.g. ``models_*.yaml``). One file may hold any of these sections:

``categories``  aspect → category tree (the 4 aspects: basic, social, interest, communication)
``lists``       reference value lists maintained by the business (e.g. stock-broker hotlines)
``sources``     a SELECT over the warehouse, row grain ``event`` (attributes aggregate it per
                subscriber) or ``subscriber`` (already one row per msisdn)
``attributes``  a select expression over one source (or ``source: derived``: over other attributes)
``tags``        a rule in the condition language, enum values with rules, score buckets, or a model
                output column
``scenarios``   named tag combinations tied to a task; ``groups`` marketers' saved groups

An entry with ``for_each`` and ``template`` is a family: the template is expanded once per combination
of the ``for_each`` values, with ``{var}`` / ``{var[key]}`` substituted in every string.

:func:`load_catalogue` reads the files; :func:`compile_catalogue` checks them (SQL parses, names exist,
types fit, no cycles) and derives lineage. Errors name the file, the entry and the problem.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from tagcloud.tags.condition import Condition, ConditionError, NameInfo, NameKind, parse_condition

DEFINITIONS = Path(__file__).parent / "definitions"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster on 900 entries
ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
ASPECTS = {
    "basic": ("基本属性", "basic attributes"),
    "social": ("社会属性", "social attributes"),
    "interest": ("兴趣偏好", "interests and preferences"),
    "communication": ("通信特征", "communication behaviour"),
}
# Relations a source may read besides the model tables; the builder provides each of them.
BUILD_RELATIONS: dict[str, dict[str, str]] = {
    "build_period": {
        "period_start": "DATE",  # first day of the window
        "period_end": "DATE",  # day after the last day of the window
        "period_days": "INTEGER",  # calendar days in the window
        "bill_month": "DATE",  # the latest bill month of the window
        "year_start": "DATE",  # 365 days before the window's end (handset and order history)
    },
    "ref_lists": {"list_id": "VARCHAR", "value": "VARCHAR"},
    "xdr_translated": {
        "record_id": "BIGINT",
        "msisdn": "VARCHAR",
        "start_time": "TIMESTAMP",
        "site": "VARCHAR",
        "app": "VARCHAR",
        "category": "VARCHAR",
        "content_type": "VARCHAR",
        "content_id": "VARCHAR",
        "matched_by": "VARCHAR",
        "bytes": "BIGINT",
        "duration_s": "INTEGER",
    },
}


class CatalogueError(ValueError):
    """An invalid definition: names the file, the entry and the problem."""


class AttrKind(StrEnum):
    FLAG = "flag"
    ENUM = "enum"
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"


class TagKind(StrEnum):
    FLAG = "flag"  # a yes/no segment defined by one condition
    ENUM = "enum"  # one of several values, each with its condition (first match wins)
    BUCKET = "bucket"  # a number cut into labelled ranges (score bucket / 档位)


class Status(StrEnum):
    """A tag's life cycle (draft → review → online → offline)."""

    DRAFT = "draft"  # being written; built only on request
    REVIEW = "review"  # waiting for the tag owner's approval; built so its coverage can be reviewed
    ONLINE = "online"  # published to marketers
    OFFLINE = "offline"  # retired; kept for history, not built


BUILT_STATES = frozenset({Status.DRAFT, Status.REVIEW, Status.ONLINE})


class Refresh(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


SQL_TYPES = {"flag": "BOOLEAN", "enum": "VARCHAR", "text": "VARCHAR", "date": "DATE"}


@dataclass(frozen=True)
class Category:
    id: str
    aspect: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Source:
    id: str
    sql: str
    grain: str  # "event" (aggregated per msisdn) or "subscriber" (one row per msisdn)
    description: str
    file: str


@dataclass(frozen=True)
class Attribute:
    id: str
    name_zh: str
    name_en: str
    category: str
    source: str  # a source id, or "derived"
    expr: str
    kind: AttrKind
    sql_type: str  # DuckDB type of the wide-table column
    unit: str | None
    description: str
    values: tuple[str, ...] | None
    default: Any
    file: str

    @property
    def derived(self) -> bool:
        return self.source == "derived"


@dataclass(frozen=True)
class TagValue:
    value: str
    name_zh: str
    name_en: str
    rule: str | None = None  # enum values
    upper: float | None = None  # bucket values: the value applies below this bound (None: no bound)


@dataclass(frozen=True)
class Version:
    version: int
    date: str
    change: str
    by: str


@dataclass(frozen=True)
class Tag:
    id: str
    name_zh: str
    name_en: str
    category: str
    kind: TagKind
    rule: str | None  # flag tags
    values: tuple[TagValue, ...]  # enum and bucket tags
    of: str | None  # bucket tags: the number they cut
    model: str | None  # model-output tags: models/<model>.parquet …
    column: str | None  # … and its column
    definition_zh: str  # 口径 (official definition), Chinese
    definition_en: str  # 口径, English
    owner: str
    status: Status
    refresh: Refresh
    history: tuple[Version, ...]
    file: str

    @property
    def version(self) -> int:
        return max((v.version for v in self.history), default=1)

    @property
    def value_codes(self) -> tuple[str, ...]:
        return tuple(v.value for v in self.values)


@dataclass(frozen=True)
class Scenario:
    """运营场景: a target group tied to a work task, defined over tags and attributes."""

    id: str
    name_zh: str
    name_en: str
    system: str  # the scenario system: traffic, migration, retention, content_handset
    task: str
    condition: str
    file: str


@dataclass(frozen=True)
class SavedGroup:
    """自助营销用户群: a marketer's saved group, referenced in conditions as in_group('id')."""

    id: str
    name_zh: str
    owner: str
    condition: str
    file: str


@dataclass
class Catalogue:
    """Everything the definitions folder holds, before and after compilation."""

    categories: dict[str, Category] = field(default_factory=dict)
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    groups: dict[str, SavedGroup] = field(default_factory=dict)
    # filled by compile_catalogue
    conditions: dict[str, Condition] = field(default_factory=dict)  # tag id / tag id:value → condition
    depends: dict[str, frozenset[str]] = field(default_factory=dict)  # name → names it reads
    columns: dict[str, frozenset[str]] = field(default_factory=dict)  # name → table.column it reads
    order: tuple[str, ...] = ()  # attributes and tags in dependency order

    # -- names ---------------------------------------------------------------------------------
    def names(self, *, include_offline: bool = False) -> dict[str, NameInfo]:
        """The names a condition may use: attributes, tags and saved groups, with their kinds."""
        out: dict[str, NameInfo] = {}
        for a in self.attributes.values():
            out[a.id] = NameInfo(a.id, NameKind(a.kind.value), a.values)
        for t in self.tags.values():
            if not include_offline and t.status == Status.OFFLINE:
                continue
            if (t.kind == TagKind.FLAG and t.model is None) or t.kind == TagKind.FLAG:
                out[t.id] = NameInfo(t.id, NameKind.FLAG)
            else:
                out[t.id] = NameInfo(t.id, NameKind.ENUM, t.value_codes or None)
        for g in self.groups.values():
            out[g.id] = NameInfo(g.id, NameKind.GROUP)
        return out

    def get(self, name: str) -> Attribute | Tag:
        if name in self.attributes:
            return self.attributes[name]
        if name in self.tags:
            return self.tags[name]
        close = difflib.get_close_matches(name, [*self.attributes, *self.tags], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"no attribute or tag {name!r}{hint}")

    # -- lineage ---------------------------------------------------------------------------------
    def upstream(self, name: str) -> set[str]:
        """Every attribute and tag ``name`` reads, directly or through others."""
        seen: set[str] = set()
        stack = list(self.depends.get(name, ()))
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(self.depends.get(n, ()))
        return seen

    def downstream(self, name: str) -> set[str]:
        """Every attribute, tag, scenario and group that reads ``name``, directly or not."""
        users: dict[str, set[str]] = {}
        for k, deps in self.depends.items():
            for d in deps:
                users.setdefault(d, set()).add(k)
        seen: set[str] = set()
        stack = list(users.get(name, ()))
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(users.get(n, ()))
        return seen

    def lineage(self, name: str) -> dict[str, list[str]]:
        """Direct inputs, all upstream attributes/tags, warehouse columns, and downstream users."""
        self.get(name)
        up = self.upstream(name)
        cols: set[str] = set(self.columns.get(name, ()))
        for u in up:
            cols |= self.columns.get(u, frozenset())
        return {
            "inputs": sorted(self.depends.get(name, ())),
            "upstream": sorted(up),
            "columns": sorted(cols),
            "used_by": sorted(self.downstream(name)),
        }

    def built_tags(self) -> list[Tag]:
        return [t for t in self.tags.values() if t.status in BUILT_STATES]


# -- loading ---------------------------------------------------------------------------------------


def load_catalogue(folder: Path | str | None = None, *, extra: Iterable[Path] = ()) -> Catalogue:
    """Read every ``*.yaml`` in ``folder`` (default: the package's definitions) and compile it."""
    cat = read_catalogue(folder, extra=extra)
    compile_catalogue(cat)
    return cat


def read_catalogue(folder: Path | str | None = None, *, extra: Iterable[Path] = ()) -> Catalogue:
    """Read every ``*.yaml`` in ``folder`` (default: the package's) into a Catalogue, not yet compiled
    (governance overlays approved versions on it before :func:`compile_catalogue`)."""
    folder = Path(folder) if folder is not None else DEFINITIONS
    if not folder.is_dir():
        raise CatalogueError(f"definitions folder {folder} does not exist")
    files = sorted(folder.glob("*.yaml")) + list(extra)
    cat = Catalogue()
    for f in files:
        try:
            doc = yaml.load(f.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        except yaml.YAMLError as e:
            raise CatalogueError(f"{f.name}: not valid YAML: {e}") from None
        add_document(cat, doc, f.name)
    return cat


def add_document(cat: Catalogue, doc: Mapping[str, Any], file: str) -> None:
    """Add one parsed YAML document's entries to ``cat`` (checked for shape, not yet compiled)."""
    if not isinstance(doc, Mapping):
        raise CatalogueError(f"{file}: the file must be a mapping of sections")
    known = {"categories", "lists", "sources", "attributes", "tags", "scenarios", "groups"}
    for key in doc:
        if key not in known:
            raise CatalogueError(f"{file}: unknown section {key!r} (sections: {', '.join(sorted(known))})")
    for entry in _entries(doc.get("categories"), file, "categories"):
        c = _category(entry, file)
        _unique(cat.categories, c.id, file, "category")
        cat.categories[c.id] = c
    for list_id, values in (doc.get("lists") or {}).items():
        _check_id(list_id, file, "list")
        vals = values.get("values") if isinstance(values, Mapping) else values
        if not isinstance(vals, list) or not vals:
            raise CatalogueError(f"{file}: list {list_id!r} needs a non-empty 'values' list")
        cat.lists[list_id] = tuple(str(v) for v in vals)
    for entry in _entries(doc.get("sources"), file, "sources"):
        s = _source(entry, file)
        _unique(cat.sources, s.id, file, "source")
        cat.sources[s.id] = s
    for entry in _entries(doc.get("attributes"), file, "attributes"):
        a = _attribute(entry, file)
        _unique_name(cat, a.id, file)
        cat.attributes[a.id] = a
    for entry in _entries(doc.get("tags"), file, "tags"):
        t = _tag(entry, file)
        _unique_name(cat, t.id, file)
        cat.tags[t.id] = t
    for entry in _entries(doc.get("scenarios"), file, "scenarios"):
        sc = Scenario(
            id=_req(entry, "id", file),
            name_zh=_req(entry, "name_zh", file),
            name_en=_req(entry, "name_en", file),
            system=_req(entry, "system", file),
            task=_req(entry, "task", file),
            condition=_req(entry, "condition", file),
            file=file,
        )
        _check_id(sc.id, file, "scenario")
        _unique(cat.scenarios, sc.id, file, "scenario")
        cat.scenarios[sc.id] = sc
    for entry in _entries(doc.get("groups"), file, "groups"):
        g = SavedGroup(
            id=_req(entry, "id", file),
            name_zh=_req(entry, "name_zh", file),
            owner=str(entry.get("owner", "")),
            condition=_req(entry, "condition", file),
            file=file,
        )
        _check_id(g.id, file, "group")
        _unique_name(cat, g.id, file)
        cat.groups[g.id] = g


def _entries(section: Any, file: str, name: str) -> list[dict[str, Any]]:
    """The entries of a section with families expanded."""
    if section is None:
        return []
    if not isinstance(section, list):
        raise CatalogueError(f"{file}: section {name!r} must be a list")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(section):
        if not isinstance(entry, Mapping):
            raise CatalogueError(f"{file}: {name}[{i}] must be a mapping")
        if "for_each" in entry:
            out.extend(_expand(entry, file, f"{name}[{i}]"))
        else:
            out.append(dict(entry))
    return out


def _expand(entry: Mapping[str, Any], file: str, where: str) -> list[dict[str, Any]]:
    loops = entry["for_each"]
    template = entry.get("template")
    if not isinstance(loops, Mapping) or not loops or not isinstance(template, Mapping):
        raise CatalogueError(f"{file}: {where}: a family needs 'for_each' (var: [values]) and 'template'")
    keys = list(loops)
    for k in keys:
        if not isinstance(loops[k], list) or not loops[k]:
            raise CatalogueError(f"{file}: {where}: for_each {k!r} must be a non-empty list")
    out = []
    for combo in itertools.product(*(loops[k] for k in keys)):
        env = dict(zip(keys, combo, strict=True))
        try:
            out.append(_substitute(template, env))
        except (KeyError, IndexError, ValueError) as e:
            raise CatalogueError(f"{file}: {where}: template uses an unknown variable or key {e}") from None
    return out


def _substitute(value: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format_map(env)
    if isinstance(value, list):
        return [_substitute(v, env) for v in value]
    if isinstance(value, Mapping):
        return {k: _substitute(v, env) for k, v in value.items()}
    return value


def _req(entry: Mapping[str, Any], key: str, file: str) -> Any:
    if entry.get(key) in (None, ""):
        raise CatalogueError(f"{file}: {entry.get('id', '?')!s}: missing {key!r}")
    return entry[key]


def _check_id(i: Any, file: str, what: str) -> None:
    if not isinstance(i, str) or not ID.match(i):
        raise CatalogueError(f"{file}: {what} id {i!r} must be ASCII snake_case (a-z, 0-9, _), 2-63 chars")


def _unique(d: Mapping[str, Any], i: str, file: str, what: str) -> None:
    if i in d:
        raise CatalogueError(f"{file}: {what} {i!r} is already defined in {getattr(d[i], 'file', '?')}")


def _unique_name(cat: Catalogue, i: str, file: str) -> None:
    # attributes, tags and groups share one namespace: conditions name them without a prefix
    existing: Attribute | Tag | SavedGroup | None = (
        cat.attributes.get(i) or cat.tags.get(i) or cat.groups.get(i)
    )
    if existing is not None:
        raise CatalogueError(f"{file}: {i!r} is already defined in {existing.file}")
    if i in {"msisdn", "city_id", "county_id", "township_id"}:
        raise CatalogueError(f"{file}: {i!r} is a reserved column of the wide table")


def _category(e: Mapping[str, Any], file: str) -> Category:
    c = Category(
        _req(e, "id", file), _req(e, "aspect", file), _req(e, "name_zh", file), _req(e, "name_en", file)
    )
    _check_id(c.id, file, "category")
    if c.aspect not in ASPECTS:
        raise CatalogueError(f"{file}: category {c.id!r}: aspect must be one of {', '.join(ASPECTS)}")
    return c


def _source(e: Mapping[str, Any], file: str) -> Source:
    s = Source(
        id=_req(e, "id", file),
        sql=_req(e, "sql", file),
        grain=str(e.get("grain", "event")),
        description=str(e.get("description", "")),
        file=file,
    )
    _check_id(s.id, file, "source")
    if s.grain not in ("event", "subscriber"):
        raise CatalogueError(f"{file}: source {s.id!r}: grain must be 'event' or 'subscriber'")
    return s


ATTRIBUTE_KEYS = frozenset(
    {
        "id",
        "name_zh",
        "name_en",
        "category",
        "source",
        "expr",
        "kind",
        "type",
        "unit",
        "description",
        "codes",
        "values",
        "default",
    }
)
TAG_KEYS = frozenset(
    {"id", "name_zh", "name_en", "category", "kind", "rule", "values", "of", "model", "column", "definition_zh",
     "definition_en", "owner", "status", "refresh", "history"}
)  # fmt: skip


def _keys(e: Mapping[str, Any], allowed: frozenset[str], file: str, what: str) -> None:
    unknown = [k for k in e if k not in allowed]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CatalogueError(
            f"{file}: {what} {e.get('id', '?')}: unknown field {str(unknown[0])[:60]!r}{hint}"
        )


def _attribute(e: Mapping[str, Any], file: str) -> Attribute:
    from tagcloud.data.codes import CODE_TABLES, code_values

    aid = _req(e, "id", file)
    _check_id(aid, file, "attribute")
    _keys(e, ATTRIBUTE_KEYS, file, "attribute")
    try:
        kind = AttrKind(_req(e, "kind", file))
    except ValueError:
        raise CatalogueError(f"{file}: {aid}: kind must be one of {', '.join(AttrKind)}") from None
    values: tuple[str, ...] | None = None
    if e.get("codes"):
        if e["codes"] not in CODE_TABLES:
            raise CatalogueError(f"{file}: {aid}: unknown code table {e['codes']!r}")
        values = code_values(e["codes"])
    elif e.get("values"):
        values = tuple(str(v) for v in e["values"])
    if kind == AttrKind.NUMBER:
        sql_type = str(e.get("type", "DOUBLE")).upper()
        if sql_type not in ("DOUBLE", "BIGINT"):
            raise CatalogueError(f"{file}: {aid}: a number is DOUBLE or BIGINT, not {sql_type}")
    else:
        sql_type = SQL_TYPES[kind.value]
    return Attribute(
        id=aid,
        name_zh=_req(e, "name_zh", file),
        name_en=_req(e, "name_en", file),
        category=_req(e, "category", file),
        source=_req(e, "source", file),
        expr=str(_req(e, "expr", file)).strip(),
        kind=kind,
        sql_type=sql_type,
        unit=e.get("unit"),
        description=str(e.get("description", "")),
        values=values,
        default=e.get("default"),
        file=file,
    )


def _tag(e: Mapping[str, Any], file: str) -> Tag:
    tid = _req(e, "id", file)
    _check_id(tid, file, "tag")
    _keys(e, TAG_KEYS, file, "tag")
    try:
        kind = TagKind(e.get("kind", "flag"))
        status = Status(e.get("status", "online"))
        refresh = Refresh(e.get("refresh", "monthly"))
    except ValueError as err:
        raise CatalogueError(f"{file}: {tid}: {err}") from None
    values: list[TagValue] = []
    for v in e.get("values") or []:
        if not isinstance(v, Mapping) or "value" not in v:
            raise CatalogueError(f"{file}: {tid}: each value needs 'value', 'name_zh', 'name_en'")
        values.append(
            TagValue(
                value=str(v["value"]),
                name_zh=str(v.get("name_zh", v["value"])),
                name_en=str(v.get("name_en", v["value"])),
                rule=v.get("rule"),
                upper=float(v["below"]) if v.get("below") is not None else None,
            )
        )
    history = tuple(
        Version(
            int(h.get("version", i + 1)),
            str(h.get("date", "")),
            str(h.get("change", "")),
            str(h.get("by", "")),
        )
        for i, h in enumerate(e.get("history") or [{"version": 1, "change": "created"}])
    )
    model = e.get("model")
    tag = Tag(
        id=tid,
        name_zh=_req(e, "name_zh", file),
        name_en=_req(e, "name_en", file),
        category=_req(e, "category", file),
        kind=kind,
        rule=e.get("rule"),
        values=tuple(values),
        of=e.get("of"),
        model=model,
        column=e.get("column", tid if model else None),
        definition_zh=_req(e, "definition_zh", file),
        definition_en=_req(e, "definition_en", file),
        owner=str(e.get("owner", "tag-office")),
        status=status,
        refresh=refresh,
        history=history,
        file=file,
    )
    if model is not None:
        _check_id(model, file, "model")
        if kind == TagKind.BUCKET:
            raise CatalogueError(f"{file}: {tid}: a model-output tag is a flag or an enum")
    elif kind == TagKind.FLAG and not tag.rule:
        raise CatalogueError(f"{file}: {tid}: a flag tag needs a 'rule' (or 'model' for a model output)")
    elif kind == TagKind.ENUM and (not values or any(v.rule is None for v in values)):
        raise CatalogueError(f"{file}: {tid}: an enum tag needs 'values', each with a 'rule'")
    elif kind == TagKind.BUCKET:
        if not tag.of or not values:
            raise CatalogueError(
                f"{file}: {tid}: a bucket tag needs 'of' (a number) and 'values' with 'below'"
            )
        bounds = [v.upper for v in values]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise CatalogueError(f"{file}: {tid}: every bucket but the last needs 'below'; the last has none")
        if any(a >= b for a, b in itertools.pairwise(bounds[:-1])):  # type: ignore[operator]
            raise CatalogueError(f"{file}: {tid}: bucket bounds must increase")
    return tag


# -- compilation ------------------------------------------------------------------------------------


def model_schema() -> dict[str, dict[str, str]]:
    """Relations a source may read, with their column types: the model's tables and the build's own."""
    from tagcloud.data.model import TABLES

    schema = {t.name: {c.name: c.type for c in t.columns} for t in TABLES.values()}
    # Partitioned tables expose their hive key (text) as well; sources use it to prune.
    from tagcloud.data.model import Partitioning

    for t in TABLES.values():
        if t.partition == Partitioning.DAY:
            schema[t.name]["day"] = "VARCHAR"
        elif t.partition == Partitioning.MONTH:
            schema[t.name]["month"] = "VARCHAR"
    schema.update({k: dict(v) for k, v in BUILD_RELATIONS.items()})
    schema["orders_history"] = dict(schema["orders"])  # every order up to the window's end (build.py)
    return schema


@dataclass(frozen=True)
class SourcePlan:
    """A compiled source: its output columns, the tables it reads, lineage of each output column."""

    source: Source
    outputs: tuple[str, ...]
    tables: frozenset[str]
    lineage: Mapping[str, frozenset[str]]


def compile_source(s: Source) -> SourcePlan:
    """Parse and qualify a source's SQL against the model; refuse anything but one SELECT."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import OptimizeError, ParseError
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import Scope, build_scope

    where = f"{s.file}: source {s.id!r}"
    try:
        statements = sqlglot.parse(s.sql, read="duckdb")
    except ParseError as e:
        raise CatalogueError(
            f"{where}: bad SQL: {e.errors[0].get('description') if e.errors else e}"
        ) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise CatalogueError(f"{where}: must be exactly one SELECT statement")
    tree = statements[0]
    schema: dict[str, object] = dict(model_schema())
    for table in tree.find_all(exp.Table):
        if table.name not in schema and not _is_cte(tree, table.name):
            close = difflib.get_close_matches(table.name, list(schema), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CatalogueError(f"{where}: unknown table {table.name!r}{hint}")
    try:
        q = qualify(tree.copy(), schema=dict(schema), dialect="duckdb", validate_qualify_columns=True)
    except OptimizeError as e:
        raise CatalogueError(f"{where}: {e}") from None
    outputs = tuple(sel.alias_or_name for sel in q.selects)
    if "msisdn" not in outputs:
        raise CatalogueError(f"{where}: must return a column named msisdn")
    if len(set(outputs)) != len(outputs):
        raise CatalogueError(f"{where}: output column names must be unique")
    root = build_scope(q)
    lineage: dict[str, frozenset[str]] = {}

    def resolve(scope: Scope, name: str, depth: int = 0) -> set[str]:
        found: set[str] = set()
        if depth > 20:
            return found
        select = scope.expression
        if not isinstance(select, exp.Select):
            for union_scope in getattr(scope, "set_operation_scopes", None) or getattr(
                scope, "union_scopes", []
            ):
                found |= resolve(union_scope, name, depth + 1)
            return found
        for proj in select.selects:
            if proj.alias_or_name != name:
                continue
            for col in proj.find_all(exp.Column):
                src = scope.sources.get(col.table)
                if isinstance(src, exp.Table):
                    found.add(f"{src.name}.{col.name}")
                elif isinstance(src, Scope):
                    found |= resolve(src, col.name, depth + 1)
        return found

    assert root is not None
    # Join keys and filters shape every row a source returns: they feed every output column.
    shaping: set[str] = set()
    for scope in root.traverse():
        for node in scope.expression.find_all(exp.Join, exp.Where):
            for col in node.find_all(exp.Column):
                src = scope.sources.get(col.table)
                if isinstance(src, exp.Table):
                    shaping.add(f"{src.name}.{col.name}")
    for out in outputs:
        lineage[out] = frozenset(resolve(root, out) | shaping)
    tables = frozenset(t.name for t in tree.find_all(exp.Table) if t.name in schema)
    return SourcePlan(s, outputs, tables, lineage)


def _is_cte(tree: Any, name: str) -> bool:
    from sqlglot import exp

    return any(cte.alias == name for cte in tree.find_all(exp.CTE))


def compile_catalogue(cat: Catalogue) -> dict[str, SourcePlan]:
    """Check every definition against the model and each other; fill lineage and dependency order.

    Refuses (CatalogueError): bad SQL, unknown tables/columns/names (with the closest match),
    non-aggregate expressions over event sources, wrong types in rules, and cycles.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    entries: list[Attribute | Tag] = [*cat.attributes.values(), *cat.tags.values()]
    for c in entries:
        if c.category not in cat.categories:
            close = difflib.get_close_matches(c.category, list(cat.categories), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CatalogueError(f"{c.file}: {c.id}: unknown category {c.category!r}{hint}")
    plans = {sid: compile_source(s) for sid, s in cat.sources.items()}
    depends: dict[str, set[str]] = {}
    columns: dict[str, frozenset[str]] = {}

    for a in cat.attributes.values():
        where = f"{a.file}: attribute {a.id!r}"
        try:
            tree = sqlglot.parse_one(a.expr, read="duckdb")
        except ParseError as e:
            raise CatalogueError(
                f"{where}: bad SQL expression: {e.errors[0].get('description') if e.errors else e}"
            ) from None
        if tree.find(exp.Query) is not None or isinstance(tree, exp.Query):
            raise CatalogueError(f"{where}: an attribute is one expression, not a query")
        used = {c.name for c in tree.find_all(exp.Column)}
        if a.derived:
            known = cat.attributes
            for n in used:
                if n not in known:
                    close = difflib.get_close_matches(n, list(known), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise CatalogueError(f"{where}: unknown attribute {n!r}{hint}")
            depends[a.id] = used
            columns[a.id] = frozenset()
            continue
        plan = plans.get(a.source)
        if plan is None:
            close = difflib.get_close_matches(a.source, list(plans), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CatalogueError(f"{where}: unknown source {a.source!r}{hint}")
        for n in used:
            if n not in plan.outputs:
                close = difflib.get_close_matches(n, list(plan.outputs), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise CatalogueError(f"{where}: source {a.source!r} has no column {n!r}{hint}")
        aggregated = tree.find(exp.AggFunc) is not None
        if plan.source.grain == "event" and not aggregated:
            raise CatalogueError(
                f"{where}: source {a.source!r} has one row per event: aggregate it (sum, count, max …)"
            )
        if plan.source.grain == "subscriber" and aggregated:
            raise CatalogueError(f"{where}: source {a.source!r} has one row per subscriber: do not aggregate")
        depends[a.id] = set()
        columns[a.id] = (
            frozenset().union(*(plan.lineage.get(n, frozenset()) for n in used)) if used else frozenset()
        )

    names = cat.names(include_offline=True)
    for t in cat.tags.values():
        where = f"{t.file}: tag {t.id!r}"
        deps: set[str] = set()
        if t.model is not None:
            depends[t.id] = set()
            columns[t.id] = frozenset({f"models/{t.model}.{t.column}"})
            continue
        rules: list[tuple[str, str]] = []
        if t.kind == TagKind.FLAG:
            rules.append((t.id, t.rule or ""))
        elif t.kind == TagKind.ENUM:
            rules.extend((f"{t.id}:{v.value}", v.rule or "") for v in t.values)
        else:
            of = names.get(t.of or "")
            if of is None or of.kind != NameKind.NUMBER:
                raise CatalogueError(f"{where}: 'of' must name a number attribute, not {t.of!r}")
            deps.add(of.name)
        for key, rule in rules:
            try:
                cond = parse_condition(rule, names, allow_expressions=True)
            except ConditionError as e:
                raise CatalogueError(f"{where}: {e}") from None
            if cond.groups:
                raise CatalogueError(f"{where}: a tag rule cannot use saved groups (in_group)")
            cat.conditions[key] = cond
            deps |= cond.names
        depends[t.id] = deps
        columns[t.id] = frozenset()
    offline = {t.id for t in cat.tags.values() if t.status == Status.OFFLINE}
    for t in cat.built_tags():
        for d in depends[t.id] & offline:
            raise CatalogueError(f"{t.file}: tag {t.id!r} uses {d!r}, which is offline")

    audience_names = cat.names()
    for sc in cat.scenarios.values():
        cat.conditions[f"scenario:{sc.id}"] = _condition(
            sc.condition, audience_names, f"{sc.file}: scenario {sc.id!r}"
        )
        depends[f"scenario:{sc.id}"] = set(cat.conditions[f"scenario:{sc.id}"].names)
    for g in cat.groups.values():
        cond = _condition(g.condition, audience_names, f"{g.file}: group {g.id!r}")
        cat.conditions[f"group:{g.id}"] = cond
        depends[f"group:{g.id}"] = set(cond.names) | set(cond.groups)

    cat.depends = {k: frozenset(v) for k, v in depends.items()}
    cat.columns = columns
    cat.order = _topological([*cat.attributes, *cat.tags], cat.depends, cat)
    _check_group_cycles(cat)
    return plans


def _condition(text: str, names: Mapping[str, NameInfo], where: str) -> Condition:
    try:
        return parse_condition(text, names)
    except ConditionError as e:
        raise CatalogueError(f"{where}: {e}") from None


def _topological(nodes: list[str], depends: Mapping[str, frozenset[str]], cat: Catalogue) -> tuple[str, ...]:
    """Dependency order (stable: definitions order among independent names); a cycle is refused."""
    from graphlib import CycleError, TopologicalSorter

    ts: TopologicalSorter[str] = TopologicalSorter()
    for n in nodes:
        ts.add(n, *sorted(d for d in depends.get(n, ()) if d in cat.attributes or d in cat.tags))
    try:
        return tuple(ts.static_order())
    except CycleError as e:
        cycle = list(e.args[1])
        path = " → ".join(reversed(cycle))
        first = cat.get(cycle[0])
        raise CatalogueError(f"{first.file}: cycle between definitions: {path}") from None


def _check_group_cycles(cat: Catalogue) -> None:
    seen: dict[str, set[str]] = {g: set(cat.conditions[f"group:{g}"].groups) for g in cat.groups}
    for start in seen:
        stack, visited = list(seen[start]), set()
        while stack:
            n = stack.pop()
            if n == start:
                raise CatalogueError(
                    f"{cat.groups[start].file}: group {start!r} refers to itself through in_group"
                )
            if n not in visited:
                visited.add(n)
                stack.extend(seen.get(n, ()))


# -- export ----------------------------------------------------------------------------------------


def tag_document(t: Tag) -> dict[str, Any]:
    """One tag as its YAML entry (the form the definitions files use)."""
    d: dict[str, Any] = {"id": t.id, "name_zh": t.name_zh, "name_en": t.name_en, "category": t.category}
    d["kind"] = t.kind.value
    if t.model:
        d["model"] = t.model
        d["column"] = t.column
    if t.rule:
        d["rule"] = t.rule
    if t.of:
        d["of"] = t.of
    if t.values:
        vals = []
        for v in t.values:
            vd: dict[str, Any] = {"value": v.value, "name_zh": v.name_zh, "name_en": v.name_en}
            if v.rule is not None:
                vd["rule"] = v.rule
            if v.upper is not None:
                vd["below"] = v.upper
            vals.append(vd)
        d["values"] = vals
    d.update(
        definition_zh=t.definition_zh,
        definition_en=t.definition_en,
        owner=t.owner,
        status=t.status.value,
        refresh=t.refresh.value,
        history=[{"version": h.version, "date": h.date, "change": h.change, "by": h.by} for h in t.history],
    )
    return d


def to_documents(cat: Catalogue) -> dict[str, dict[str, Any]]:
    """The catalogue as YAML documents (families expanded), one per section; loads back unchanged."""

    def attr(a: Attribute) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": a.id,
            "name_zh": a.name_zh,
            "name_en": a.name_en,
            "category": a.category,
            "source": a.source,
            "expr": a.expr,
            "kind": a.kind.value,
        }
        if a.kind == AttrKind.NUMBER:
            d["type"] = a.sql_type
        if a.values:
            d["values"] = list(a.values)
        for k in ("unit", "description", "default"):
            v = getattr(a, k)
            if v not in (None, ""):
                d[k] = v
        return d

    return {
        "categories.yaml": {"categories": [vars(c) for c in cat.categories.values()]},
        "lists.yaml": {"lists": {k: {"values": list(v)} for k, v in cat.lists.items()}},
        "sources.yaml": {
            "sources": [
                {"id": s.id, "grain": s.grain, "description": s.description, "sql": s.sql}
                for s in cat.sources.values()
            ]
        },
        "attributes.yaml": {"attributes": [attr(a) for a in cat.attributes.values()]},
        "tags.yaml": {"tags": [tag_document(t) for t in cat.tags.values()]},
        "scenarios.yaml": {
            "scenarios": [{k: v for k, v in vars(s).items() if k != "file"} for s in cat.scenarios.values()],
            "groups": [{k: v for k, v in vars(g).items() if k != "file"} for g in cat.groups.values()],
        },
    }


def export_catalogue(cat: Catalogue, out: Path | str) -> list[Path]:
    """Write the catalogue as YAML files into ``out`` (created); BI engineers review them as code."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in to_documents(cat).items():
        path = out / name
        path.write_text(
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=110, default_flow_style=False),
            encoding="utf-8",
        )
        written.append(path)
    return written
