"""Usage metering. Import from here: `from usage.services import usage_collect_day`.

- rules.py: the accounting rules (one docstring says them all) and pod parsing
- sampler.py: one pod list per cluster into one row per pod (`usage_sample`)
- ownership.py: namespaces to projects to users
- rollup.py: a cluster-day's compute from the pod rows, set-based
- sources.py: storage (WebHDFS) and API calls (Prometheus) per project
- collection.py: the nightly collection of a cluster-day, pricing, prepaid deduction
- locks.py: one collection per cluster-day at a time
- report.py: the per-user daily JSON report
- billed.py: the days already priced (for the price catalogue import)
- scheduling.py: which cluster-days to collect and their Celery tasks
"""

from __future__ import annotations

from usage.services.billed import usage_billed_days
from usage.services.collection import usage_collect_day
from usage.services.locks import cluster_day_lock, cluster_day_lock_key
from usage.services.report import usage_report
from usage.services.sampler import usage_sample
from usage.services.scheduling import (
    UsageDayRefused,
    usage_collect_enqueue,
    usage_day_check,
    usage_default_day,
    usage_sample_enqueue,
)

__all__ = [
    "UsageDayRefused",
    "usage_billed_days",
    "cluster_day_lock",
    "cluster_day_lock_key",
    "usage_collect_day",
    "usage_collect_enqueue",
    "usage_day_check",
    "usage_default_day",
    "usage_report",
    "usage_sample",
    "usage_sample_enqueue",
]
