{#- The NLP stage's macros (docs/nlp.md). Warehouse differences as adapter.dispatch macros, like warehouse.sql. -#}

{#- Whether the NLP stage is on: the transformer's NLP_ENABLED (pipeline.toml [nlp] enabled, set by the topology).
    Read at parse time: the review models are disabled, and the marts' sentiment columns are null, when it is off. -#}
{% macro nlp_enabled() %}
  {{ return(env_var('NLP_ENABLED', 'false') | lower in ('true', '1', 'yes')) }}
{% endmacro %}

{#- The lowercase hex MD5 of a text expression. -#}
{% macro md5_hex(expression) %}
  {{ return(adapter.dispatch('md5_hex')(expression)) }}
{% endmacro %}

{% macro default__md5_hex(expression) -%}
  md5({{ expression }})
{%- endmacro %}

{% macro athena__md5_hex(expression) -%}
  lower(to_hex(md5(to_utf8({{ expression }}))))
{%- endmacro %}

{#- Whether an array column holds a value (true/false; null arrays give false). -#}
{% macro array_has(array_expression, value) %}
  {{ return(adapter.dispatch('array_has')(array_expression, value)) }}
{% endmacro %}

{% macro default__array_has(array_expression, value) -%}
  coalesce(list_contains({{ array_expression }}, {{ value }}), false)
{%- endmacro %}

{% macro athena__array_has(array_expression, value) -%}
  coalesce(contains({{ array_expression }}, {{ value }}), false)
{%- endmacro %}

{#- The enriched review scores of the days being built, as a FROM item.
    Athena: the Glue table (CDK, partition projection on dt) over enriched/reviews/; the model filters on dt.
    DuckDB: exactly those days' objects; a day with no object yet gives an empty relation with the same columns
    (read_json fails on a pattern that matches nothing). -#}
{% macro enriched_reviews_for_batch(relation) %}
  {{ return(adapter.dispatch('enriched_reviews_for_batch')(relation)) }}
{% endmacro %}

{% macro default__enriched_reviews_for_batch(relation) -%}
  {{ relation }}
{%- endmacro %}

{% macro duckdb__enriched_reviews_for_batch(relation) -%}
  {%- if '__dbt__cte__' in (relation | string) -%}
  {{ relation }}
  {%- else -%}
  {%- set days = batch_days() -%}
  {%- set bucket = data_bucket() -%}
  {%- set location = 's3://' ~ bucket ~ '/enriched/reviews/' -%}
  {%- set patterns = [] -%}
  {%- for day in days -%}{%- do patterns.append(location ~ 'dt=' ~ day ~ '/*.jsonl.gz') -%}{%- endfor -%}
  {%- if not days -%}{%- do patterns.append(location ~ 'dt=*/*.jsonl.gz') -%}{%- endif -%}
  {%- set files = [] -%}
  {%- if execute -%}
    {%- for pattern in patterns -%}
      {%- set found = run_query("select file from glob('" ~ pattern ~ "')") -%}
      {%- for row in found.rows -%}{%- do files.append(row[0]) -%}{%- endfor -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if files -%}
  read_json(
      [{% for file in files %}'{{ file }}'{{ ", " if not loop.last }}{% endfor %}],
      format = 'newline_delimited',
      columns = {{ enriched_reviews_duckdb_columns() }},
      hive_partitioning = true,
      hive_types = {'dt': 'VARCHAR'}
  )
  {%- else -%}
  (select * from read_json('[]', columns = {{ enriched_reviews_duckdb_columns() }}) cross join (select ''::varchar as dt) where false)
  {%- endif -%}
  {%- endif -%}
{%- endmacro %}

{#- The themes of the review theme lexicon (services/transformer/domain/themes.py THEMES; a test checks both agree). -#}
{% macro review_themes() %}
  {{ return(['food', 'service', 'price', 'ambience', 'wait', 'cleanliness']) }}
{% endmacro %}

{#- The most frequent theme among columns <prefix><theme> (counts); null when none is mentioned.
    Ties go to the theme listed first in review_themes(). -#}
{% macro top_theme(prefix) -%}
  {%- set themes = review_themes() -%}
  {%- set greatest_count -%}greatest({% for t in themes %}coalesce({{ prefix }}{{ t }}, 0){{ ", " if not loop.last }}{% endfor %}){%- endset -%}
  case
    when {{ greatest_count }} = 0 then null
    {% for t in themes -%}
    when coalesce({{ prefix }}{{ t }}, 0) = {{ greatest_count }} then '{{ t }}'
    {% endfor -%}
  end
{%- endmacro %}

{#- Aggregates of review_sentiments rows (alias `rs`) for a GROUP BY: scored and unscored counts, average
    sentiment, shares of positive and negative reviews, and per-theme mention counts (<theme_prefix><theme>). -#}
{% macro review_sentiment_aggregates(theme_prefix='theme_') -%}
        cast(count(case when rs.score_status = 'scored' then 1 end) as bigint) as scored_reviews,
        cast(count(case when rs.score_status in ('empty_text', 'unsupported_language') then 1 end) as bigint) as unscored_reviews,
        avg(case when rs.score_status = 'scored' then rs.sentiment_score end) as average_sentiment,
        {{ safe_ratio(
            "sum(case when rs.score_status = 'scored' and rs.sentiment_label = 'POSITIVE' then 1 else 0 end)",
            "count(case when rs.score_status = 'scored' then 1 end)"
        ) }} as positive_share,
        {{ safe_ratio(
            "sum(case when rs.score_status = 'scored' and rs.sentiment_label = 'NEGATIVE' then 1 else 0 end)",
            "count(case when rs.score_status = 'scored' then 1 end)"
        ) }} as negative_share,
        {% for t in review_themes() -%}
        cast(sum(case when rs.mentions_{{ t }} then 1 else 0 end) as bigint) as {{ theme_prefix }}{{ t }}{{ "," if not loop.last }}
        {% endfor -%}
{%- endmacro %}
