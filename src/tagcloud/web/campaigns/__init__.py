"""The campaign pages (营销活动): design, approval inbox, execution, call lists, evaluation, and the
touchpoint REST endpoints. Every step calls ``tagcloud.campaigns``; this package only parses
requests, checks role and region, and renders."""
