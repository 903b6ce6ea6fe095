{{ config(enabled=nlp_enabled(), materialized='table') }}
-- One row per review of the days being built, without its author: the transformer reads this table between
-- staging and the marts to score the reviews it has not scored yet (a table, not a view: the transformer's
-- read-only DuckDB reader has no S3 access, and Athena then reads raw once, not twice).
-- review_id: md5 of the review's resource name (places/<place>/reviews/<id>), or of place id + publish time +
-- text when the name is missing. A review seen on several days (or in several objects) of the batch is one row:
-- the latest day, then the latest object, wins. authorAttribution (names, photos) is never selected.
with

source as (

    select * from {{ raw_places_for_batch(source('raw', 'places')) }}
    where {{ in_batch_partitions('dt') }} and {{ in_batch_objects() }}
      and reviews is not null

),

flattened as (

    select
        source.id as place_id,
        cast(source.dt as date) as collection_date,
        coalesce(source."_collection".city, 'unknown') as city,
        {{ text_timestamp('source."_source".loaded_at') }} as loaded_at,
        source."_source".key as source_key,
        item.review.name as review_name,
        item.review.rating as rating,
        item.review.publishTime as publish_time,
        item.review.text.text as review_text,
        item.review.text.languageCode as review_language,
        item.review.originalText.text as original_text,
        item.review.originalText.languageCode as original_language

    from source
    cross join unnest(source.reviews) as item (review)

),

renamed as (

    select
        {{ md5_hex(
            "coalesce(review_name, place_id || '|' || coalesce(publish_time, '') || '|' "
            ~ "|| coalesce(original_text, review_text, ''))"
        ) }} as review_id,
        place_id,
        city,
        collection_date,
        rating,
        {{ iso_timestamp('publish_time') }} as published_at,
        nullif(trim(review_text), '') as review_text,
        nullif(review_language, '') as review_language,
        nullif(trim(original_text), '') as original_text,
        nullif(original_language, '') as original_language,
        loaded_at,
        source_key

    from flattened

),

ranked as (

    select
        *,
        row_number() over (
            partition by review_id
            order by collection_date desc, loaded_at desc, source_key desc
        ) as review_rank

    from renamed

)

select
    review_id,
    place_id,
    city,
    collection_date,
    rating,
    published_at,
    review_text,
    review_language,
    original_text,
    original_language,
    loaded_at

from ranked
where review_rank = 1
