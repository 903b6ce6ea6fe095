"""dbt-athena buckets Iceberg partitions with mmh3. requirements.lock takes mmh3 4.1 below Python 3.13 (what
dbt-athena asks for) and mmh3 5 from 3.13 on (4.1 neither ships nor builds there): both must give the hashes the
Iceberg specification publishes (https://iceberg.apache.org/spec/#appendix-b-32-bit-hash-requirements), which is what
Athena computes for the same bucket."""

from __future__ import annotations

import struct
from datetime import date
from types import SimpleNamespace

import mmh3
import pytest
from dbt.adapters.athena.impl import AthenaAdapter

SPEC_VECTORS = [
    (struct.pack("<q", 34), 2017239379),  # int and long 34, hashed as an 8-byte little-endian long
    (struct.pack("<q", (date(2017, 11, 16) - date(1970, 1, 1)).days), -653330422),  # date: days since the epoch
    ("iceberg", 1210000089),
    (b"\x00\x01\x02\x03", -188683207),
]


@pytest.mark.parametrize(("value", "expected"), SPEC_VECTORS)
def test_the_installed_mmh3_gives_the_iceberg_specification_hashes(value, expected):
    assert mmh3.hash(value) == expected


def test_dbt_athena_puts_a_value_in_the_bucket_the_specification_names():
    adapter = SimpleNamespace(INTEGER_MAX_VALUE_32_BIT_SIGNED=AthenaAdapter.INTEGER_MAX_VALUE_32_BIT_SIGNED)
    # the specification's worked example: bucket[16] of 34 is 3
    assert AthenaAdapter.murmur3_hash(adapter, 34, 16) == 3
    assert AthenaAdapter.murmur3_hash(adapter, "iceberg", 16) == 1210000089 % 16
