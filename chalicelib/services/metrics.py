"""Operational metrics as CloudWatch embedded-metric-format (EMF) log lines, namespace ``Sleeve``.

Each call prints one EMF JSON line at once (aws-lambda-powertools ``single_metric``), so nothing needs flushing at the
end of a request and the API function needs no Metrics decorator. CloudWatch Logs turns the line into the metric.
"""

from __future__ import annotations

from collections.abc import Callable

#: The CloudWatch namespace of Sleeve's own metrics.
NAMESPACE = "Sleeve"
#: Counts one occurrence of the named metric.
CountMetric = Callable[[str], None]


def count(name: str) -> None:
    """Count one ``name`` (unit Count, value 1) in the ``Sleeve`` namespace, dimension ``service=sleeve``.

    Powertools is imported here, on first use: the request path that never counts never pays for it.
    """
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE, default_dimensions={"service": "sleeve"}
    ):
        pass
