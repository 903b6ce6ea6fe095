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

{#- A predicate on a DATE column: on or after `days` days before the earliest day being built (true when every day
    is built). Reads of the history that never reach further back than that can say so, so both warehouses skip
    the older history (DuckDB's zone maps, Iceberg's file statistics) instead of scanning it. -#}
{% macro within_days_before_batch(column, days) %}
  {%- set days_built = batch_days() -%}
  {%- if days_built -%}
    {{ column }} >= {{ days_before("date '" ~ (days_built | min) ~ "'", days) }}
  {%- else -%}
    1 = 1
  {%- endif -%}
{% endmacro %}

{#- Which validated objects this invocation reads: var('objects'), keys under validated/places/dt=<day>/ whose day is
    in var('dts'). Empty = every object of those days (a person running dbt by hand, a full rebuild).
    The transformer passes the objects of its batch, so a burst of files on one day costs each build only its own
    objects, not every object the day already holds. -#}
{% macro batch_objects() %}
  {%- set keys = var('objects', []) -%}
  {%- if keys is string -%}{%- set keys = keys.split(',') if keys else [] -%}{%- endif -%}
  {%- set days = batch_days() -%}
  {%- if keys and not days -%}
    {{ exceptions.raise_compiler_error("var objects needs var dts (the objects' days); pass e.g. --vars '{dts: [2026-01-01], objects: [validated/places/dt=2026-01-01/x.jsonl.gz]}'") }}
  {%- endif -%}
  {%- for key in keys -%}
    {%- set match = modules.re.match('^validated/places/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/[^/]+[.]jsonl[.]gz$', key | string) -%}
    {%- if not match or match.group(1) not in days -%}
      {{ exceptions.raise_compiler_error("var objects: " ~ (key | string) ~ " is not an object validated/places/dt=<day>/<name>.jsonl.gz of a day in var dts") }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(keys | map('string') | list) }}
{% endmacro %}

{#- The s3:// URIs of batch_objects(), as SQL string literals. -#}
{% macro batch_object_uris() %}
  {%- set location = raw_places_location() | replace('validated/places/', '') -%}
  {%- set uris = [] -%}
  {%- for key in batch_objects() -%}
    {%- do uris.append("'" ~ (location ~ key) | replace("'", "''") ~ "'") -%}
  {%- endfor -%}
  {{ return(uris) }}
{% endmacro %}
