{#- Which collection days this invocation builds: var('dts') (a list of 'YYYY-MM-DD'), empty = every day. -#}

{% macro batch_days() %}
  {%- set days = var('dts', []) -%}
  {%- if days is string -%}{%- set days = days.split(',') if days else [] -%}{%- endif -%}
  {%- for day in days -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', day | string) -%}
      {{ exceptions.raise_compiler_error("var dts: " ~ (day | string) ~ " is not a day (YYYY-MM-DD); pass e.g. --vars '{dts: [2026-01-01]}'") }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(days | map('string') | list) }}
{% endmacro %}

{#- A predicate on a partition column holding 'YYYY-MM-DD' strings (the raw dt partition). -#}
{% macro in_batch_partitions(column) %}
  {%- set days = batch_days() -%}
  {%- if days -%}
    {{ column }} in ({% for day in days %}'{{ day }}'{{ ", " if not loop.last }}{% endfor %})
  {%- else -%}
    1 = 1
  {%- endif -%}
{% endmacro %}

{#- A predicate on a DATE column. -#}
{% macro in_batch_days(column) %}
  {%- set days = batch_days() -%}
  {%- if days -%}
    {{ column }} in ({% for day in days %}date '{{ day }}'{{ ", " if not loop.last }}{% endfor %})
  {%- else -%}
    1 = 1
  {%- endif -%}
{% endmacro %}
