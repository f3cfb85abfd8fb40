{#- Generic data tests (no dbt packages are available at run time). -#}

{#- The combination of the given columns is unique (like dbt_utils'). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{#- Every row satisfies the boolean SQL expression (NULL counts as failing).
    Usable at model or column level (column_name is then ignored). -#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}

{#- The column holds a well-formed financial year label 'YYYY/YY' whose
    second part is the year after the first (e.g. '2021/22', '1999/00'). -#}
{% test is_financial_year_label(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
      and (
          not {{ full_match(column_name, '[0-9]{4}/[0-9]{2}') }}
          or (try_cast(substr({{ column_name }}, 1, 4) as integer) + 1) % 100
             <> try_cast(substr({{ column_name }}, 6, 2) as integer)
      )
{% endtest %}

{#- The column (a month) is the first day of a month. -#}
{% test is_first_of_month(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
      and day({{ column_name }}) <> 1
{% endtest %}

{#- Lineage is complete and points at one raw record: file_path, file_sha256
    and line_number are never NULL, and (file_sha256, line_number) is unique.
    In two passes: the keys that may repeat, by a hash of the pair (a hash table of fixed-width
    keys, which spills: a whole build's test over the 73 M raw rows at 100x ran out of 1 GB
    grouping by the text), then those counted exactly (a hash collision costs a second look,
    never a miss). -#}
{% test has_valid_lineage(model) %}
    with tested as (

        select file_path, file_sha256, line_number from {{ model }}

    ),

    repeated as (

        select hash(file_sha256, line_number) as pair_hash
        from tested
        group by 1
        having count(*) > 1

    )

    select
        file_sha256,
        line_number,
        count(*)          as n_rows,
        count(file_path)  as n_paths
    from tested
    where file_path is null or file_sha256 is null or line_number is null
       or hash(file_sha256, line_number) in (select pair_hash from repeated)
    group by file_sha256, line_number
    having count(*) > 1
        or count(file_path) < count(*)
        or file_sha256 is null
        or line_number is null
{% endtest %}
