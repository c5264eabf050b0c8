"""Report: evaluation folders (``metrics.json``) -> a self-contained HTML page, PNG figures, summary.md."""

from threekg.report.build import build_report
from threekg.report.schema import MetricsFormatError, load_metrics

__all__ = ["MetricsFormatError", "build_report", "load_metrics"]
