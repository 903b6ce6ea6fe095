"""How the local event source mapping reads a partial batch response: as Lambda does."""

from __future__ import annotations

import pytest

from restaurant_pipeline.local.esm import failed_items

IDS = ["m1", "m2", "m3"]


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_an_empty_response_means_every_item_succeeded(response):
    assert failed_items(response, IDS) == set()


def test_the_named_items_failed():
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert failed_items(response, IDS) == {"m2", "m3"}


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemId": "m1"}]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]},
        {"batchItemFailures": "m1"},
        "not a response",
    ],
)
def test_a_malformed_response_fails_the_whole_batch(response):
    assert failed_items(response, IDS) is None
