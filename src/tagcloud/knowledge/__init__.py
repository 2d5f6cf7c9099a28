"""The marketers' knowledge wiki (营销快点吧): quick points (快点), behaviour → knowledge → product.

Plain Python, no Django: the point's parts and checks (:mod:`.points`), the published knowledge
tags and what other systems read of them (:mod:`.wiki`, e.g. the matching library's
``verified_points()``), a group's product penetration against the province (:mod:`.longtail`),
the demo's seed points (:mod:`.seed`). The pages and the stored wiki (versions, ratings, comments,
follows) are the Django app ``tagcloud.web.knowledge``.

The customer–service–channel matching library (seed 002) is :mod:`.matching` (evaluation in
:mod:`.matching_eval`): four layers of evidence, one of them the wiki's verified points.
"""
