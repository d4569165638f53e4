"""Metric learning, self-supervision (SimCLR) and retrieval metrics.

Losses (:mod:`.losses`), miners (:mod:`.miners`), training criteria
(:mod:`.criterion`), encoders (:mod:`.models`), SimCLR (:mod:`.simclr`,
:mod:`.augment`), probes (:mod:`.probe`), retrieval metrics (:mod:`.metrics`)
and datasets (:mod:`.data`).
"""
