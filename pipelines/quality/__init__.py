"""The quality layer: Great Expectations suites, freshness and movement warnings, the per-run
quality report and `outcomes checks`.

Nothing here imports Great Expectations at module level: importing it costs seconds, and a run
whose data did not change never needs it (docs/quality.md).
"""
