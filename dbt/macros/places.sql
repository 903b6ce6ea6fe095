{#- Place attributes and daily aggregates shared by the staging model and the marts. Plain SQL that DuckDB and Athena
    read alike (upper, substr, replace, regexp_replace, case): no dispatch needed. -#}

{#- The Places primary types that say "a place to eat" without a cuisine. -#}
{% macro cuisine_free_types() %}
  {{ return(['restaurant', 'food', 'meal_takeaway', 'meal_delivery', 'point_of_interest', 'establishment']) }}
{% endmacro %}

{#- The readable cuisine of a Places primary type (Places API (New) "Table A" types):
    the type without its `_restaurant` suffix, underscores as spaces, first letter upper case
    (japanese_restaurant -> Japanese, fast_food_restaurant -> Fast food, steak_house -> Steak house, bistro -> Bistro);
    'Unspecified' when there is no type or it names no cuisine (restaurant, food, ...). Never null, so it can key a
    mart. -#}
{% macro cuisine_label(primary_type) -%}
  {%- set words -%}replace(regexp_replace({{ primary_type }}, '_restaurant$', ''), '_', ' '){%- endset -%}
  case
    when {{ primary_type }} is null or {{ primary_type }} = ''
      or {{ primary_type }} in ({% for t in cuisine_free_types() %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %})
      then 'Unspecified'
    else upper(substr({{ words }}, 1, 1)) || substr({{ words }}, 2)
  end
{%- endmacro %}

{#- A price level (free ... very_expensive) as a number from 0 to 4; null when unknown or unspecified. -#}
{% macro price_level_number(price_level) -%}
  case {{ price_level }}
    when 'free' then 0
    when 'inexpensive' then 1
    when 'moderate' then 2
    when 'expensive' then 3
    when 'very_expensive' then 4
  end
{%- endmacro %}

{#- The aggregates of one group of daily snapshots (alias `s`) joined to restaurants (alias `r`, for the first day
    seen): places seen, new (first seen that day), permanently closed, mean and rating-count-weighted rating, and the
    price level mix. Shared by city_daily_summary and city_cuisine_daily_summary so both count alike. A group may
    hold no snapshot (a left join from a row the table had: every `s` column null): it counts 0 places. -#}
{% macro restaurant_day_aggregates() -%}
        cast(count(s.place_id) as bigint) as restaurants_seen,
        cast(sum(case when r.first_seen_date = s.snapshot_date then 1 else 0 end) as bigint) as new_restaurants,
        cast(sum(case when s.business_status = 'CLOSED_PERMANENTLY' then 1 else 0 end) as bigint) as closed_restaurants,
        avg(s.rating) as average_rating,
        {{ safe_ratio(
            'sum(case when s.user_rating_count is not null then s.rating * s.user_rating_count end)',
            'sum(case when s.rating is not null then s.user_rating_count end)'
        ) }} as weighted_rating,
        cast(sum(case when s.price_level = 'free' then 1 else 0 end) as bigint) as price_free,
        cast(sum(case when s.price_level = 'inexpensive' then 1 else 0 end) as bigint) as price_inexpensive,
        cast(sum(case when s.price_level = 'moderate' then 1 else 0 end) as bigint) as price_moderate,
        cast(sum(case when s.price_level = 'expensive' then 1 else 0 end) as bigint) as price_expensive,
        cast(sum(case when s.price_level = 'very_expensive' then 1 else 0 end) as bigint) as price_very_expensive,
        cast(sum(case when s.place_id is not null and (s.price_level is null or s.price_level = 'unspecified') then 1 else 0 end) as bigint) as price_unknown
{%- endmacro %}

{#- The lowercase names of an incremental model's existing columns; [] outside an incremental run or while
    parsing. In a dbt unit test `this` is the fixture: none is missing, so every name asked for is there. -#}
{% macro existing_columns(relation, wanted) %}
  {%- if '__dbt__cte__' in (relation | string) -%}{{ return(wanted | map('lower') | list) }}{%- endif -%}
  {%- if not (is_incremental() and execute) -%}{{ return([]) }}{%- endif -%}
  {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list) }}
{% endmacro %}

{#- 1 for a row from a dropped file (its run is "drop-..."), 0 for a row a collection recorded: a collection's row
    of a day outranks a dropped file's, whatever their load times (services/transformer/domain/identity.py). -#}
{% macro dropped_rank(run_id) -%}
  case when {{ run_id }} like 'drop-%' then 1 else 0 end
{%- endmacro %}
