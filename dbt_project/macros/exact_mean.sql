{#- The mean of a column of scores with at most two decimals, the same in the
    last digit however the engine orders or splits the rows: the sum is taken
    in DECIMAL (exact), then divided once. A floating-point avg() sums in
    whatever order the threads meet, and the published figure could change
    between two runs over the same rows. -#}
{% macro exact_mean(column) -%}
    cast(sum(cast({{ column }} as decimal(18, 2))) as double) / count({{ column }})
{%- endmacro %}
