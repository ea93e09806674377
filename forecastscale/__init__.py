"""forecastscale: scale GPU workloads on Kubernetes ahead of demand."""

__version__ = "0.1.0"
