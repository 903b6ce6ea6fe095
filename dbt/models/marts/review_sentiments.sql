{{ config(enabled=nlp_enabled(), unique_key='review_id') }}
{%- set score_columns = [
    'score_status', 'analyzer', 'analyzed_language', 'analyzed_text_source', 'sentiment_label', 'sentiment_score',
    'positive_probability', 'negative_probability', 'neutral_probability', 'mixed_probability', 'key_phrases',
    'themes', 'scored_at'] -%}
-- One row per review with its scores (incremental, merged on review_id). A review seen again keeps the scores
-- it got the first time (the transformer never scores it twice) and extends its last day seen.
with

batch_reviews as (

    select * from {{ ref('stg_places__reviews') }}

),

batch_scores as (

    select * from {{ ref('stg_enriched__reviews') }}

),

{% if is_incremental() %}
existing as (

    select * from {{ this }}
    where review_id in (select review_id from batch_reviews)

),
{% endif %}

joined as (

    select
        r.review_id,
        r.place_id,
        r.city,
        r.rating,
        r.published_at,
        r.review_text,
        r.review_language,
        r.original_text,
        r.original_language,
        {% if is_incremental() %}
        case when e.first_seen_date < r.collection_date then e.first_seen_date else r.collection_date end
            as first_seen_date,
        case when e.last_seen_date > r.collection_date then e.last_seen_date else r.collection_date end
            as last_seen_date,
        {% for column in score_columns -%}
        case when s.review_id is not null then s.{{ column }} else e.{{ column }} end as {{ column }}{{ "," if not loop.last }}
        {% endfor %}
        {% else %}
        r.collection_date as first_seen_date,
        r.collection_date as last_seen_date,
        {% for column in score_columns -%}
        s.{{ column }}{{ "," if not loop.last }}
        {% endfor %}
        {% endif %}

    from batch_reviews as r
    left join batch_scores as s on s.review_id = r.review_id
    {% if is_incremental() %}
    left join existing as e on e.review_id = r.review_id
    {% endif %}

)

select
    review_id,
    place_id,
    city,
    rating,
    published_at,
    review_text,
    review_language,
    original_text,
    original_language,
    first_seen_date,
    last_seen_date,
    -- pending: not processed yet (the analyzer failed on it; the next run retries it)
    coalesce(score_status, 'pending') as score_status,
    analyzer,
    analyzed_language,
    analyzed_text_source,
    sentiment_label,
    sentiment_score,
    positive_probability,
    negative_probability,
    neutral_probability,
    mixed_probability,
    key_phrases,
    themes,
    {% for t in review_themes() -%}
    {{ array_has('themes', "'" ~ t ~ "'") }} as mentions_{{ t }},
    {% endfor -%}
    scored_at,
    '{{ invocation_id }}' as dbt_invocation_id

from joined
