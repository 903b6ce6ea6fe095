{{ config(unique_key='place_id') }}
-- Current state: one row per place, the attributes of its latest snapshot, first and last day seen.
-- Incremental: only the places seen in the days being built are recomputed, from their new snapshots and
-- their existing row (so a late backfill of an old day never overwrites a newer state).
with

batch_snapshots as (

    select * from {{ ref('restaurant_daily_snapshots') }}
    where {{ in_batch_days('snapshot_date') }}

),

candidates as (

    select
        place_id,
        snapshot_date as state_date,
        snapshot_date as first_seen_date,
        snapshot_date as last_seen_date,
        city,
        name,
        rating,
        user_rating_count,
        price_level,
        business_status,
        1 as from_batch

    from batch_snapshots

    {% if is_incremental() %}
    union all

    select
        place_id,
        last_seen_date as state_date,
        first_seen_date,
        last_seen_date,
        city,
        name,
        rating,
        user_rating_count,
        price_level,
        business_status,
        0 as from_batch

    from {{ this }}
    where place_id in (select place_id from batch_snapshots)
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (partition by place_id order by state_date desc, from_batch desc) as state_rank,
        min(first_seen_date) over (partition by place_id) as first_seen,
        max(last_seen_date) over (partition by place_id) as last_seen

    from candidates

)

select
    place_id,
    city,
    name,
    rating,
    user_rating_count,
    price_level,
    business_status,
    first_seen as first_seen_date,
    last_seen as last_seen_date,
    '{{ invocation_id }}' as dbt_invocation_id

from ranked
where state_rank = 1
