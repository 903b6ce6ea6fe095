"""The collector's domain, pure (no boto3, no aiohttp, no environment):

- plan.py        a request's plan: run id, day, and per city its query, language, target and object key
- collect.py     collect the cities: pages, tiling past the API's 60-result cap, de-duplication, write-once
- tiling.py      past the cap: count rectangles with the free ids-only mask, then fetch only complete ones
- events.py      the facts to announce (Collection Completed / Failed)
- model.py       the types: plans, outcomes, failures and their categories
- field_mask.py  what the collector needs in the Places field mask
"""
