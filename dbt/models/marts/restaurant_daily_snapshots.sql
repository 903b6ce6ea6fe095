{{ config(unique_key=['place_id', 'snapshot_date']) }}
-- One row per place per collection day: the history that makes trends possible.
-- Incremental: the staging model holds only the days being built, merged on (place_id, snapshot_date),
-- so re-dropping a day's file replaces that day's rows with the same values and touches no other day.
select
    place_id,
    collection_date as snapshot_date,
    city,
    name,
    rating,
    user_rating_count,
    price_level,
    business_status,
    run_id,
    collected_at,
    source_key,
    '{{ invocation_id }}' as dbt_invocation_id

from {{ ref('stg_places__places') }}
