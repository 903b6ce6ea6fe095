{{ config(unique_key='place_id') }}
{%- set lookbacks = [7, 30] -%}
{#- A table built before first_seen_closed_date existed gets the column from this run (on_schema_change). -#}
{%- set has_closed_date = 'first_seen_closed_date' in existing_columns(this, ['first_seen_closed_date']) %}
-- Current state, one row per place: the attributes of its latest snapshot (where it is, what kind, its rating),
-- the first and last days it was seen, the first day it was seen permanently closed, and its rating and rating
-- count 7 and 30 days before its latest day, with the change since.
-- Incremental: only the places seen in the days being built are recomputed, from their new snapshots and their
-- existing row (first, last and first-closed days: min / max, so the order days are built in does not matter).
-- The attributes and the earlier ratings are then read from the snapshots by (place, day): a late backfill of an
-- old day never overwrites a newer state, and a daily build reads the same few rows however long the history is.
-- With the NLP stage on: review sentiment of the place (all its reviews so far) and its most frequent theme.
with

-- every snapshot read below is of a place's latest day or {{ lookbacks | max }} days before it at most, and a
-- place's latest day is never before the earliest day being built
snapshots as (

    select * from {{ ref('restaurant_daily_snapshots') }}
    where {{ within_days_before_batch('snapshot_date', lookbacks | max) }}

),

batch_snapshots as (

    select * from snapshots
    where {{ in_batch_days('snapshot_date') }}

),

{% if is_incremental() and not has_closed_date %}
-- once, on a table that predates first_seen_closed_date: the batch's places' first closed day from their history
closed_history as (

    select place_id, min(snapshot_date) as first_seen_closed_date
    from {{ ref('restaurant_daily_snapshots') }}
    where business_status = 'CLOSED_PERMANENTLY'
      and place_id in (select place_id from batch_snapshots)
    group by place_id

),
{% endif %}

days_seen as (

    select
        place_id,
        min(snapshot_date) as first_seen_date,
        max(snapshot_date) as last_seen_date,
        min(case when business_status = 'CLOSED_PERMANENTLY' then snapshot_date end) as first_seen_closed_date

    from batch_snapshots
    group by place_id

    {% if is_incremental() %}
    union all

    select
        t.place_id,
        t.first_seen_date,
        t.last_seen_date,
        {% if has_closed_date -%}
        t.first_seen_closed_date
        {%- else -%}
        c.first_seen_closed_date
        {%- endif %}

    from {{ this }} as t
    {% if not has_closed_date -%}
    left join closed_history as c on c.place_id = t.place_id
    {% endif -%}
    where t.place_id in (select place_id from batch_snapshots)
    {% endif %}

),

spans as (

    select
        place_id,
        min(first_seen_date) as first_seen_date,
        max(last_seen_date) as last_seen_date,
        min(first_seen_closed_date) as first_seen_closed_date

    from days_seen
    group by place_id

),

current_state as (

    select
        sp.first_seen_date,
        sp.last_seen_date,
        sp.first_seen_closed_date,
        s.*

    from spans as sp
    inner join snapshots as s
        on s.place_id = sp.place_id and s.snapshot_date = sp.last_seen_date

),

-- the snapshots {{ lookbacks | join(' and ') }} days before each place's latest day (null when not collected that day)
earlier as (

    select
        sp.place_id,
        {% for days in lookbacks -%}
        max(case when s.snapshot_date = {{ days_before('sp.last_seen_date', days) }} then s.rating end)
            as rating_{{ days }}d_ago,
        max(case when s.snapshot_date = {{ days_before('sp.last_seen_date', days) }} then s.user_rating_count end)
            as user_rating_count_{{ days }}d_ago{{ "," if not loop.last }}
        {% endfor %}

    from spans as sp
    inner join snapshots as s
        on s.place_id = sp.place_id
        and s.snapshot_date in ({% for days in lookbacks %}{{ days_before('sp.last_seen_date', days) }}{{ ", " if not loop.last }}{% endfor %})
    group by sp.place_id

){% if nlp_enabled() %},

-- NLP stage: every review of the place so far; "previous" = the reviews first seen before its latest day, so
-- average_sentiment - previous_average_sentiment is how far this run's new reviews moved it.
review_stats as (

    select
        c.place_id,
        {{ review_sentiment_aggregates() }},
        avg(case when rs.score_status = 'scored' and rs.first_seen_date < c.last_seen_date then rs.sentiment_score end)
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
    c.first_seen_date,
    c.last_seen_date,
    c.formatted_address,
    c.latitude,
    c.longitude,
    c.primary_type,
    c.cuisine,
    c.types,
    c.google_maps_uri,
    c.first_seen_closed_date,
    {% for days in lookbacks -%}
    e.rating_{{ days }}d_ago,
    e.user_rating_count_{{ days }}d_ago,
    round(c.rating - e.rating_{{ days }}d_ago, 2) as rating_change_{{ days }}d,
    c.user_rating_count - e.user_rating_count_{{ days }}d_ago as user_rating_count_change_{{ days }}d,
    {% endfor -%}
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
left join earlier as e on e.place_id = c.place_id
{% if nlp_enabled() -%}
left join review_stats as s on s.place_id = c.place_id
{%- endif %}
