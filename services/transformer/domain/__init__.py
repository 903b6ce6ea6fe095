"""The transformer's domain, pure (no boto3, no SQL, no environment):

- records.py    the records read and written, declared once (raw place, validated place, enriched review)
- reading.py    read and validate a raw object: good lines kept, bad ones quarantined with their reason
- transform.py  validate a batch, one build over its days, describe the outcome per run
- sentiment.py  the NLP stage: choose a review's text, score the new ones, wrap the build
- themes.py     what a review talks about (food, service, price, ...)
- model.py      the types: build reports, failed tests, errors, the analyzer's documents and analyses
"""
