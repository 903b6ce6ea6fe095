{{ config(unique_key=['place_id', 'snapshot_date']) }}
-- One row per place per collection day: the history that makes trends possible (rating, count, price, status),
-- with where the place is and what kind it is that day.
-- Incremental: the staging model holds only the objects being built, merged on (place_id, snapshot_date), so
-- re-dropping a day's file replaces that day's rows with the same values and touches no other day.
-- The same precedence as staging holds across builds: a row already here from a collection is never replaced by a
-- dropped file's, and between rows of the same kind the one loaded later (loaded_at, then source key) is kept, so
-- an older object processed after a newer one never overwrites it.
{#- A table built before loaded_at existed gets the column from this run (on_schema_change): compare from the next. -#}
{%- set compare_loaded_at = 'loaded_at' in existing_columns(this, ['loaded_at']) %}
-- Every column of the staging model (one row per place per collection day, its day as snapshot_date), so a Places
-- field added there is kept here with no edit of this model.
select
    s.*,
    '{{ invocation_id }}' as dbt_invocation_id

from {{ ref('stg_places__places') }} as s
{% if compare_loaded_at %}
where not exists (
    select 1
    from {{ this }} as e
    where e.place_id = s.place_id
      and e.snapshot_date = s.snapshot_date
      and (
          {{ dropped_rank('e.run_id') }} < {{ dropped_rank('s.run_id') }}
          or (
              {{ dropped_rank('e.run_id') }} = {{ dropped_rank('s.run_id') }}
              and (e.loaded_at > s.loaded_at or (e.loaded_at = s.loaded_at and e.source_key > s.source_key))
          )
      )
)
{% endif %}
