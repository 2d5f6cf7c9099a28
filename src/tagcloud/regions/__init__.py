"""Regional management (区域化管理, seed 003): daily KPIs per region level and channel
(:mod:`tagcloud.regions.kpi`), alert rules, their evaluation, the closed-loop handling of an alert
and its drill-down explanation (:mod:`tagcloud.regions.alerts`). Plain Python over DuckDB; the web
app ``tagcloud.web.alerts`` keeps rules and alerts in the platform's database and calls this.

Competition information (:mod:`.competition`), hot areas (:mod:`.hotareas`), the rural info base
(:mod:`.rural`), cell maintenance (:mod:`.cells`) and the special markets (:mod:`.markets`) sit
beside them; their pages are the web app ``tagcloud.web.markets``."""
