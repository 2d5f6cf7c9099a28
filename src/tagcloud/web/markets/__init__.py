"""Regional markets on the web: competition information, hot areas, the rural info base, the
special markets and cell maintenance (seed 003 §2.2–2.4). Logic lives in ``tagcloud.regions``."""
