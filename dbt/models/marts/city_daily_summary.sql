{{ config(unique_key=['city', 'summary_date']) }}
-- Per city and collection day: restaurants seen, new, closed, ratings and price level mix; with the NLP stage
-- on, review sentiment and themes of the places seen that day.
-- Incremental: recomputes only the days being built; the previous day's count comes from this table's own
-- row for that single day (for the day-over-day drop warning).
with

snapshots as (

    select * from {{ ref('restaurant_daily_snapshots') }}
    where {{ in_batch_days('snapshot_date') }}

),

restaurants as (

    select place_id, first_seen_date from {{ ref('restaurants') }}

),

-- The (city, day) pairs to count: those seen, and on an incremental build those the table already holds for the
-- days being built. A city whose places all moved to another city that day (one place id dropped under two cities:
-- the latest object wins) is counted again, to 0, instead of keeping places it no longer has.
city_days as (

    select distinct city, snapshot_date as summary_date from snapshots
    {% if is_incremental() %}
    union
    select city, summary_date from {{ this }}
    where {{ in_batch_days('summary_date') }}
    {% endif %}

),

daily as (

    select
        k.city,
        k.summary_date,
        {{ restaurant_day_aggregates() }}

    from city_days as k
    left join snapshots as s on s.city = k.city and s.snapshot_date = k.summary_date
    left join restaurants as r on s.place_id = r.place_id
    group by k.city, k.summary_date

),

{% if nlp_enabled() %}
-- NLP stage: the reviews (first seen on or before the day) of the places seen that day.
review_stats as (

    select
        s.city,
        s.snapshot_date as summary_date,
        {{ review_sentiment_aggregates() }}

    from snapshots as s
    inner join {{ ref('review_sentiments') }} as rs
        on rs.place_id = s.place_id and rs.first_seen_date <= s.snapshot_date
    group by s.city, s.snapshot_date

),
{% endif %}

{% if is_incremental() %}
previous_days as (

    select city, summary_date, restaurants_seen
    from {{ this }}
    where summary_date in (select {{ days_before('summary_date', 1) }} from daily)

),
{% endif %}

with_previous as (

    select
        d.*,
        {% if is_incremental() %}
        coalesce(p.restaurants_seen, b.restaurants_seen) as previous_day_restaurants_seen
        {% else %}
        b.restaurants_seen as previous_day_restaurants_seen
        {% endif %}

    from daily as d
    -- the previous day may be in this batch (b) or already in the table (p)
    left join daily as b
        on b.city = d.city and b.summary_date = {{ days_before('d.summary_date', 1) }}
    {% if is_incremental() %}
    left join previous_days as p
        on p.city = d.city and p.summary_date = {{ days_before('d.summary_date', 1) }}
    {% endif %}

)

select
    w.city,
    w.summary_date,
    w.restaurants_seen,
    w.new_restaurants,
    w.closed_restaurants,
    w.average_rating,
    w.weighted_rating,
    w.price_free,
    w.price_inexpensive,
    w.price_moderate,
    w.price_expensive,
    w.price_very_expensive,
    w.price_unknown,
    w.previous_day_restaurants_seen,
    {% if nlp_enabled() -%}
    coalesce(rv.scored_reviews, 0) as scored_reviews,
    coalesce(rv.unscored_reviews, 0) as unscored_reviews,
    rv.average_sentiment,
    rv.positive_share,
    rv.negative_share,
    {% for t in review_themes() -%}
    coalesce(rv.theme_{{ t }}, 0) as theme_{{ t }},
    {% endfor -%}
    {{ top_theme('rv.theme_') }} as top_theme,
    {%- else -%}
    -- NLP disabled (pipeline.toml [nlp] enabled = false): same columns, no values.
    cast(null as bigint) as scored_reviews,
    cast(null as bigint) as unscored_reviews,
    cast(null as double) as average_sentiment,
    cast(null as double) as positive_share,
    cast(null as double) as negative_share,
    {% for t in review_themes() -%}
    cast(null as bigint) as theme_{{ t }},
    {% endfor -%}
    cast(null as varchar) as top_theme,
    {%- endif %}
    '{{ invocation_id }}' as dbt_invocation_id

from with_previous as w
{% if nlp_enabled() -%}
left join review_stats as rv on rv.city = w.city and rv.summary_date = w.summary_date
{%- endif %}
