{{ config(enabled=nlp_enabled()) }}
-- The NLP stage's scores for the days being built, typed; one row per review (a review processed twice for the
-- same days, e.g. after a retry, keeps its latest record).
with

source as (

    select * from {{ enriched_reviews_for_batch(source('enriched', 'reviews')) }}
    where {{ in_batch_partitions('dt') }}

),

renamed as (

    select
        review_id,
        place_id,
        status as score_status,
        analyzer,
        analyzed_language,
        analyzed_text_source,
        sentiment_label,
        sentiment_score,
        positive as positive_probability,
        negative as negative_probability,
        neutral as neutral_probability,
        mixed as mixed_probability,
        key_phrases,
        themes,
        {{ text_timestamp('scored_at') }} as scored_at,
        row_number() over (partition by review_id order by scored_at desc, dt desc) as record_rank

    from source

)

select
    review_id,
    place_id,
    score_status,
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
    scored_at

from renamed
where record_rank = 1
