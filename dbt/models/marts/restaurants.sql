{{ config(unique_key='place_id') }}
-- Current state: one row per place, the attributes of its latest snapshot, first and last day seen.
-- Incremental: only the places seen in the days being built are recomputed, from their new snapshots and
-- their existing row (so a late backfill of an old day never overwrites a newer state).
-- With the NLP stage on: review sentiment of the place (all its reviews so far) and its most frequent theme.
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

),

current_state as (

    select * from ranked
    where state_rank = 1

){% if nlp_enabled() %},

-- NLP stage: every review of the place so far; "previous" = the reviews first seen before its latest day, so
-- average_sentiment - previous_average_sentiment is how far this run's new reviews moved it.
review_stats as (

    select
        c.place_id,
        {{ review_sentiment_aggregates() }},
        avg(case when rs.score_status = 'scored' and rs.first_seen_date < c.last_seen then rs.sentiment_score end)
            as previous_average_sentiment

    from current_state as c
    inner join {{ ref('review_sentiments') }} as rs on rs.place_id = c.place_id
    group by c.place_id

){% endif %}

select
    c.place_id,
    c.city,
    c.name,
    c.rating,
    c.user_rating_count,
    c.price_level,
    c.business_status,
    c.first_seen as first_seen_date,
    c.last_seen as last_seen_date,
    {% if nlp_enabled() -%}
    coalesce(s.scored_reviews, 0) as scored_reviews,
    coalesce(s.unscored_reviews, 0) as unscored_reviews,
    s.average_sentiment,
    s.previous_average_sentiment,
    s.positive_share,
    s.negative_share,
    {{ top_theme('s.theme_') }} as top_theme,
    {%- else -%}
    -- NLP disabled (pipeline.toml [nlp] enabled = false): same columns, no values.
    cast(null as bigint) as scored_reviews,
    cast(null as bigint) as unscored_reviews,
    cast(null as double) as average_sentiment,
    cast(null as double) as previous_average_sentiment,
    cast(null as double) as positive_share,
    cast(null as double) as negative_share,
    cast(null as varchar) as top_theme,
    {%- endif %}
    '{{ invocation_id }}' as dbt_invocation_id

from current_state as c
{% if nlp_enabled() -%}
left join review_stats as s on s.place_id = c.place_id
{%- endif %}
