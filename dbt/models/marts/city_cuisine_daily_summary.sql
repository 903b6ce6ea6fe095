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

)

select
    s.city,
    -- a snapshot kept from before the cuisine column existed (a newer object of its day) counts as Unspecified
    coalesce(s.cuisine, 'Unspecified') as cuisine,
    s.snapshot_date as summary_date,
    {{ restaurant_day_aggregates() }},
    avg({{ price_level_number('s.price_level') }}) as average_price_level,
    '{{ invocation_id }}' as dbt_invocation_id

from snapshots as s
left join restaurants as r on s.place_id = r.place_id
group by s.city, coalesce(s.cuisine, 'Unspecified'), s.snapshot_date
