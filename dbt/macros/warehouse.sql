{#- Every warehouse difference of the project, as adapter.dispatch macros (duckdb__ = local, athena__ = AWS). -#}

{#- The raw places relation behind source('raw', 'places').
    Athena: a Glue table created by the CDK stack over validated/places/ (partition projection on dt): nothing to do.
    DuckDB: a view over the same S3 objects read through httpfs with the declared column types. -#}
{% macro create_raw_places_relation() %}
  {{ return(adapter.dispatch('create_raw_places_relation')()) }}
{% endmacro %}

{% macro default__create_raw_places_relation() %}{% endmacro %}

{% macro duckdb__create_raw_places_relation() %}
  {%- set source_relation = source('raw', 'places') -%}
  {%- set pattern = raw_places_location() ~ 'dt=*/*.jsonl.gz' -%}
  {%- set found = 1 -%}
  {%- if execute -%}
    {#- Already a view over the objects: nothing to do (listing every object on every run costs time). -#}
    {%- set existing = run_query(
        "select sql from duckdb_views() where schema_name = '" ~ source_relation.schema
        ~ "' and view_name = '" ~ source_relation.identifier ~ "'") -%}
    {%- if existing.rows | length > 0 and pattern in existing.columns[0].values()[0] -%}
      {{ return('') }}
    {%- endif -%}
    {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] -%}
  {%- endif %}
  create schema if not exists {{ source_relation.schema }};
  create or replace view {{ source_relation }} as
  {% if found > 0 -%}
  select * from read_json(
      '{{ pattern }}',
      format = 'newline_delimited',
      columns = {{ raw_places_duckdb_columns() }},
      hive_partitioning = true,
      hive_types = {'dt': 'VARCHAR'}
  )
  {%- else -%}
  {#- No object yet: an empty relation with the same columns, so docs and freshness still work. -#}
  select * from {{ duckdb__empty_raw_places() }}
  {%- endif %}
{% endmacro %}

{#- The data bucket (var bucket, else BUCKET_NAME), read only when SQL runs. Nothing in the graph depends on it, and
    a value read while parsing would tie the parsed manifest to one deployment (see the transformer's
    adapters/shipped_manifest.py: the artifact ships a manifest parsed before the bucket exists). -#}
{% macro data_bucket() %}
  {%- if not execute -%}{{ return('bucket-known-when-sql-runs') }}{%- endif -%}
  {{ return(var('bucket', env_var('BUCKET_NAME', 'restaurant-pipeline-local'))) }}
{% endmacro %}

{% macro raw_places_location() %}
  {%- set bucket = data_bucket() -%}
  {{ return('s3://' ~ bucket ~ '/validated/places/') }}
{% endmacro %}

{#- ISO 8601 text (with Z or an offset) to a UTC timestamp without zone (what Iceberg and DuckDB both store). -#}
{% macro iso_timestamp(expression) %}
  {{ return(adapter.dispatch('iso_timestamp')(expression)) }}
{% endmacro %}

{% macro default__iso_timestamp(expression) -%}
  cast(cast({{ expression }} as timestamp with time zone) at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro athena__iso_timestamp(expression) -%}
  cast(from_iso8601_timestamp({{ expression }}) at time zone 'UTC' as timestamp(6))
{%- endmacro %}

{#- UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]' (what the transformer writes: _source.loaded_at, scored_at) to a timestamp
    with microseconds. Every timestamp of a model is made by this macro or iso_timestamp, never by a bare cast:
    Athena reads `timestamp` as timestamp(3), which an Iceberg table refuses (tests/support/athena_rules.py). -#}
{% macro text_timestamp(expression) %}
  {{ return(adapter.dispatch('text_timestamp')(expression)) }}
{% endmacro %}

{% macro default__text_timestamp(expression) -%}
  cast({{ expression }} as timestamp)
{%- endmacro %}

{% macro athena__text_timestamp(expression) -%}
  cast({{ expression }} as timestamp(6))
{%- endmacro %}

{#- The DATE `days` days before a DATE expression (days: a whole number known when compiling). -#}
{% macro days_before(expression, days) %}
  {{ return(adapter.dispatch('days_before')(expression, days | int)) }}
{% endmacro %}

{% macro default__days_before(expression, days) -%}
  cast({{ expression }} - interval {{ days }} day as date)
{%- endmacro %}

{% macro athena__days_before(expression, days) -%}
  date_add('day', -{{ days }}, {{ expression }})
{%- endmacro %}

{#- A floating point division that yields null on a zero denominator. -#}
{% macro safe_ratio(numerator, denominator) -%}
  cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}

{#- The raw relation restricted to the days being built, as a FROM item.
    Athena: the Glue table itself; partition projection prunes on the dt predicate of the staging model and
    in_batch_objects() on "$path" keeps only the batch's objects.
    DuckDB: a glob over the whole prefix costs one request per object of every day before partition pruning,
    so with var objects set it reads exactly those objects, else with var dts exactly those days' prefixes. -#}
{% macro raw_places_for_batch(relation) %}
  {{ return(adapter.dispatch('raw_places_for_batch')(relation)) }}
{% endmacro %}

{% macro default__raw_places_for_batch(relation) -%}
  {{ relation }}
{%- endmacro %}

{#- The raw relation's columns and no row (read_json needs at least one file): a struct of the columns, unnested. -#}
{% macro duckdb__empty_raw_places() -%}
  {%- set columns = modules.re.findall("'([^']+)': '([^']+)'", raw_places_duckdb_columns() | string) -%}
  (select unnest(null::struct({% for name, type in columns %}"{{ name }}" {{ type }}{{ ", " if not loop.last }}{% endfor %})),
      ''::varchar as dt where false)
{%- endmacro %}

{% macro duckdb__raw_places_for_batch(relation) -%}
  {%- set days = batch_days() -%}
  {%- set uris = batch_object_uris() -%}
  {%- set patterns = [] -%}
  {%- if days and not uris and execute -%}
    {#- By hand (`dbt build --vars "{dts: [...]}"`): the days that hold objects; a day without any builds nothing. -#}
    {%- for day in days -%}
      {%- set pattern = raw_places_location() ~ 'dt=' ~ day ~ '/*.jsonl.gz' -%}
      {%- if run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] > 0 -%}
        {%- do patterns.append(pattern) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {#- In a dbt unit test source() is the fixture CTE: read the fixture, not S3. -#}
  {%- if days and '__dbt__cte__' not in (relation | string) and (uris or patterns or not execute) -%}
  read_json(
      {% if uris -%}
      [{{ uris | join(', ') }}],
      {%- else -%}
      [{% for pattern in patterns %}'{{ pattern }}'{{ ", " if not loop.last }}{% endfor %}],
      {%- endif %}
      format = 'newline_delimited',
      columns = {{ raw_places_duckdb_columns() }},
      hive_partitioning = true,
      hive_types = {'dt': 'VARCHAR'}
  )
  {%- elif days and '__dbt__cte__' not in (relation | string) -%}
  {{ duckdb__empty_raw_places() }}
  {%- else -%}
  {{ relation }}
  {%- endif -%}
{%- endmacro %}

{#- A predicate keeping only the rows of batch_objects() (true when var objects is empty), on the raw relation.
    Athena: on the hidden "$path" column, which Athena also uses to skip the other objects of the partition.
    DuckDB: true, raw_places_for_batch already reads only those objects. -#}
{% macro in_batch_objects() %}
  {{ return(adapter.dispatch('in_batch_objects')()) }}
{% endmacro %}

{% macro default__in_batch_objects() -%}
  1 = 1
{%- endmacro %}

{% macro athena__in_batch_objects() -%}
  {%- set uris = batch_object_uris() -%}
  {%- if uris -%}
  "$path" in ({{ uris | join(', ') }})
  {%- else -%}
  1 = 1
  {%- endif -%}
{%- endmacro %}
