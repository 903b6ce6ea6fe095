"""Which AWS regions offer a service (botocore's endpoint data), and the nearest of them to another region.

botocore knows which regions offer Amazon Comprehend (eu-west-3, the default stack region, is not one of them), but
not where regions are: REGION_LOCATIONS gives the city each commercial region is named after in botocore's own
descriptions ("Europe (Paris)"), as latitude/longitude, to rank candidates by great-circle distance. A region
missing from it (a newer botocore) has no nearest: the configuration then asks for an explicit choice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache

# (latitude, longitude) of the city in each region's botocore description.
REGION_LOCATIONS: dict[str, tuple[float, float]] = {
    "af-south-1": (-33.92, 18.42),  # Cape Town
    "ap-east-1": (22.32, 114.17),  # Hong Kong
    "ap-east-2": (25.03, 121.57),  # Taipei
    "ap-northeast-1": (35.68, 139.69),  # Tokyo
    "ap-northeast-2": (37.57, 126.98),  # Seoul
    "ap-northeast-3": (34.69, 135.50),  # Osaka
    "ap-south-1": (19.08, 72.88),  # Mumbai
    "ap-south-2": (17.39, 78.49),  # Hyderabad
    "ap-southeast-1": (1.35, 103.82),  # Singapore
    "ap-southeast-2": (-33.87, 151.21),  # Sydney
    "ap-southeast-3": (-6.21, 106.85),  # Jakarta
    "ap-southeast-4": (-37.81, 144.96),  # Melbourne
    "ap-southeast-5": (3.14, 101.69),  # Malaysia (Kuala Lumpur)
    "ap-southeast-6": (-36.85, 174.76),  # New Zealand (Auckland)
    "ap-southeast-7": (13.76, 100.50),  # Thailand (Bangkok)
    "ca-central-1": (45.50, -73.57),  # Canada (Central): Montreal
    "ca-west-1": (51.05, -114.07),  # Calgary
    "eu-central-1": (50.11, 8.68),  # Frankfurt
    "eu-central-2": (47.37, 8.54),  # Zurich
    "eu-north-1": (59.33, 18.07),  # Stockholm
    "eu-south-1": (45.46, 9.19),  # Milan
    "eu-south-2": (41.65, -0.88),  # Spain (Aragon: Zaragoza)
    "eu-west-1": (53.35, -6.26),  # Ireland (Dublin)
    "eu-west-2": (51.51, -0.13),  # London
    "eu-west-3": (48.86, 2.35),  # Paris
    "il-central-1": (32.09, 34.78),  # Tel Aviv
    "me-central-1": (25.20, 55.27),  # UAE (Dubai)
    "me-south-1": (26.07, 50.56),  # Bahrain
    "mx-central-1": (20.59, -100.39),  # Mexico (Central): Querétaro
    "sa-east-1": (-23.55, -46.63),  # Sao Paulo
    "us-east-1": (38.13, -78.45),  # N. Virginia
    "us-east-2": (40.42, -82.91),  # Ohio
    "us-west-1": (37.35, -121.96),  # N. California
    "us-west-2": (45.84, -119.70),  # Oregon
}


@cache
def service_regions(service: str, partition: str = "aws") -> tuple[str, ...]:
    """The regions of `partition` where botocore's endpoint data offers `service`."""
    import boto3

    return tuple(boto3.session.Session().get_available_regions(service, partition_name=partition))


def distance_km(a: str, b: str) -> float:
    """Great-circle distance between two regions' cities (haversine, Earth radius 6,371 km)."""
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, REGION_LOCATIONS[r])) for r in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def nearest_region(region: str, candidates: Iterable[str]) -> str | None:
    """`region` itself when it is a candidate, else the closest candidate; None when `region` has no location."""
    options = sorted(set(candidates))
    if region in options:
        return region
    located = [candidate for candidate in options if candidate in REGION_LOCATIONS]
    if region not in REGION_LOCATIONS or not located:
        return None
    return min(located, key=lambda candidate: distance_km(region, candidate))
