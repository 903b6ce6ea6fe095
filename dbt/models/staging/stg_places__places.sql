{#- DuckDB: a table, so a build reads the batch's objects once over S3 instead of once per model and test that
    selects from it (measured: a burst build of 299 objects spent most of its dbt time re-reading them). Athena: a
    view, as every staging model (a table would be one more CTAS query billed per build). -#}
{{ config(materialized='table' if target.type == 'duckdb' else 'view') }}

-- One row per place per collection day: typed and renamed; when several raw objects of the same day hold a
-- place, a collection's object wins over a dropped file's, then the latest object wins. Reads only the days being built (var dts), so history is never re-read, and
-- with var objects only those objects of the days (the transformer's batch): the latest object among them wins
-- here, and restaurant_daily_snapshots keeps an existing row loaded later than the incoming one.
with

source as (

    select * from {{ raw_places_for_batch(source('raw', 'places')) }}
    where {{ in_batch_partitions('dt') }} and {{ in_batch_objects() }}

),

renamed as (

    select
        id as place_id,
        cast(dt as date) as collection_date,
        displayName.text as name,
        displayName.languageCode as name_language,
        formattedAddress as formatted_address,
        location.latitude as latitude,
        location.longitude as longitude,
        rating,
        userRatingCount as user_rating_count,
        lower(replace(priceLevel, 'PRICE_LEVEL_', '')) as price_level,
        businessStatus as business_status,
        primaryType as primary_type,
        {{ cuisine_label('primaryType') }} as cuisine,
        types,
        googleMapsUri as google_maps_uri,
        "_collection".run_id as run_id,
        coalesce("_collection".city, 'unknown') as city,
        "_collection".trigger_source as trigger_source,
        {{ iso_timestamp('"_collection".collected_at') }} as collected_at,
        "_source".key as source_key,
        "_source".line as source_line,
        "_source".version as source_version,
        {{ text_timestamp('"_source".loaded_at') }} as loaded_at

    from source

),

ranked as (

    select
        *,
        -- dense_rank, not row_number: duplicates inside one object survive, so the unique test catches them.
        -- A collection's row outranks a dropped file's; then the latest object wins. Two versions of one key are
        -- never built together (the transformer builds a key's current version only); read together (a full
        -- refresh) and loaded in the same second, the version decides, so they never tie.
        dense_rank() over (
            partition by place_id, collection_date
            order by {{ dropped_rank('run_id') }}, loaded_at desc, source_key desc, source_version desc
        ) as object_rank

    from renamed

)

-- Every column below is carried by restaurant_daily_snapshots as it is (its `s.*`): a column added here reaches the
-- snapshots mart with no other edit.
select
    place_id,
    collection_date as snapshot_date,
    name,
    name_language,
    formatted_address,
    latitude,
    longitude,
    rating,
    user_rating_count,
    price_level,
    business_status,
    primary_type,
    cuisine,
    types,
    google_maps_uri,
    run_id,
    city,
    trigger_source,
    collected_at,
    source_key,
    source_line,
    loaded_at

from ranked
where object_rank = 1
