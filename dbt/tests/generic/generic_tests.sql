{#- Generic tests written here because the package hub is unreachable. Each returns the failing rows.
    `batch_column` (optional): test only the rows of the days being built (var dts), so a daily run
    never rescans the history. -#}

{% test unique_combination(model, combination, batch_column=none) %}
select {{ combination | join(', ') }}, count(*) as occurrences
from {{ model }}
where {{ in_batch_days(batch_column) if batch_column else '1 = 1' }}
group by {{ combination | join(', ') }}
having count(*) > 1
{% endtest %}

{% test accepted_range(model, column_name, min_value=none, max_value=none, batch_column=none) %}
select *
from {{ model }}
where {{ in_batch_days(batch_column) if batch_column else '1 = 1' }}
  and {{ column_name }} is not null
  and (
    1 = 0
    {% if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
    {% if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
  )
{% endtest %}

{#- Latitude in -90..90 and longitude in -180..180; both required unless allow_missing (rows written before the
    columns existed). -#}
{% test valid_coordinates(model, latitude, longitude, allow_missing=false, batch_column=none) %}
select *
from {{ model }}
where {{ in_batch_days(batch_column) if batch_column else '1 = 1' }}
  and (
    {% if not allow_missing %}{{ latitude }} is null or {{ longitude }} is null or{% endif %}
    {{ latitude }} < -90 or {{ latitude }} > 90
    or {{ longitude }} < -180 or {{ longitude }} > 180
  )
{% endtest %}

{% test related_in_batch(model, column_name, to, field, batch_column) %}
select child.{{ column_name }}
from {{ model }} as child
left join {{ to }} as parent on child.{{ column_name }} = parent.{{ field }}
where {{ in_batch_days('child.' ~ batch_column) }}
  and child.{{ column_name }} is not null
  and parent.{{ field }} is null
{% endtest %}

{#- Warns when a day's count fell by more than `share` (var daily_drop_warn_share) of the previous day's. -#}
{% test daily_drop_within_share(model, column_name, previous_column, batch_column) %}
{%- set share = var('daily_drop_warn_share', 0.5) | float -%}
select *
from {{ model }}
where {{ in_batch_days(batch_column) }}
  and {{ previous_column }} is not null
  and {{ previous_column }} > 0
  and {{ column_name }} < (1 - {{ share }}) * {{ previous_column }}
{% endtest %}

{#- Links to Google Maps: https on maps.google.com or www.google.com/maps. Google documents googleMapsUri only as
    "a URL providing more information about this place"; the API returns https://maps.google.com/?cid=<number>. -#}
{% test maps_link(model, column_name, batch_column=none) %}
select *
from {{ model }}
where {{ in_batch_days(batch_column) if batch_column else '1 = 1' }}
  and {{ column_name }} is not null
  and not ({{ column_name }} like 'https://maps.google.com/%' or {{ column_name }} like 'https://www.google.com/maps%')
{% endtest %}

{#- Rows where a boolean SQL expression over the model's columns is false (null counts as true: write the nulls
    you forbid into the expression). -#}
{% test expression_is_true(model, expression, batch_column=none) %}
select *
from {{ model }}
where {{ in_batch_days(batch_column) if batch_column else '1 = 1' }}
  and not coalesce({{ expression }}, true)
{% endtest %}
