"""Who sends the spans: the service, its version, and the platform it runs on.

The platform is recognised by a variable it sets itself (the seed's detection:
Cloud Run, GCE/GKE, AWS, Azure). It decides only the resource attributes that
describe where the service runs; where spans go is the OTLP endpoint, never a
vendor endpoint guessed from the platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.util.types import AttributeValue

from .. import DISTRIBUTION

__all__ = ["Platform", "detect_platform", "service_resource"]


@dataclass(frozen=True)
class Platform:
    """A platform, recognised by a variable it sets, and the attributes that describe it."""

    name: str
    attributes: Mapping[str, str]


CLOUD_RUN = Platform("Cloud Run", {"cloud.provider": "gcp", "cloud.platform": "gcp_cloud_run"})
GKE = Platform("GKE", {"cloud.provider": "gcp", "cloud.platform": "gcp_kubernetes_engine"})
GCE = Platform("GCE", {"cloud.provider": "gcp", "cloud.platform": "gcp_compute_engine"})
AWS_ECS = Platform("AWS ECS", {"cloud.provider": "aws", "cloud.platform": "aws_ecs"})
AWS_LAMBDA = Platform("AWS Lambda", {"cloud.provider": "aws", "cloud.platform": "aws_lambda"})
AWS = Platform("AWS", {"cloud.provider": "aws"})
AZURE_CONTAINER_APPS = Platform(
    "Azure Container Apps", {"cloud.provider": "azure", "cloud.platform": "azure.container_apps"}
)


def detect_platform(signals: Mapping[str, str | None]) -> Platform | None:
    """The platform whose variable is set (first match, in this order), or None.

    ``signals`` maps variable names to values (``Settings.platform_signals``).
    """
    if signals.get("K_SERVICE"):
        return CLOUD_RUN
    if signals.get("GCE_METADATA_HOST"):
        return GKE if signals.get("KUBERNETES_SERVICE_HOST") else GCE
    if aws := signals.get("AWS_EXECUTION_ENV"):
        if aws.startswith("AWS_ECS"):
            return AWS_ECS
        return AWS_LAMBDA if aws.startswith("AWS_Lambda") else AWS
    if signals.get("CONTAINER_APP_NAME"):
        return AZURE_CONTAINER_APPS
    return None


def _service_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def service_resource(platform: Platform | None) -> Resource:
    """Who sends the spans: this service, its version, and the platform it runs on.

    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``, if set, win over these.
    """
    attributes: dict[str, AttributeValue] = {
        "service.name": DISTRIBUTION,
        "service.version": _service_version(),
        **(platform.attributes if platform is not None else {}),
    }
    attributes.update(OTELResourceDetector().detect().attributes or {})
    return Resource.create(attributes)
