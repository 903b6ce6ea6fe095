{{ config(unique_key=['city', 'cuisine', 'summary_date']) }}
-- Per city, cuisine and collection day: restaurants seen, new, closed, average and weighted rating, price level
-- mix and mean price level ("what does each cuisine cost here"). Counted as city_daily_summary counts (macro
-- restaurant_day_aggregates), one level finer: its rows of a city and day add up to that city's day.
-- Incremental: recomputes only the days being built.
with

snapshots as (

    select * from {{ ref('restaurant_daily_snapshots') }}
    where {{ in_batch_days('snapshot_date') }}

),

restaurants as (

    select place_id, first_seen_date from {{ ref('restaurants') }}

),

-- As city_daily_summary: the (city, cuisine, day) rows seen, and those the table holds for the days being built (a
-- place that moved to another city or cuisine that day leaves its old row counted again, to 0).
keys as (

    -- a snapshot kept from before the cuisine column existed (a newer object of its day) counts as Unspecified
    select distinct city, coalesce(cuisine, 'Unspecified') as cuisine, snapshot_date as summary_date from snapshots
    {% if is_incremental() %}
    union
    select city, cuisine, summary_date from {{ this }}
    where {{ in_batch_days('summary_date') }}
    {% endif %}

)

select
    k.city,
    k.cuisine,
    k.summary_date,
    {{ restaurant_day_aggregates() }},
    avg({{ price_level_number('s.price_level') }}) as average_price_level,
    '{{ invocation_id }}' as dbt_invocation_id

from keys as k
left join snapshots as s
    on s.city = k.city and coalesce(s.cuisine, 'Unspecified') = k.cuisine and s.snapshot_date = k.summary_date
left join restaurants as r on s.place_id = r.place_id
group by k.city, k.cuisine, k.summary_date
