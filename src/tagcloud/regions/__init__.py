"""Regional management (区域化管理, seed 003): alerts, competition information, hot areas, special markets and cell maintenance."""
