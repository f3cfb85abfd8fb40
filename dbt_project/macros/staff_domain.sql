{#-
    Contract, zoom/ "Staff": anyone whose email domain is a staff domain
    (var staff_domains, default ['merseycare.nhs.uk']). A sub-domain of a
    staff domain (e.g. 'mail.merseycare.nhs.uk') also counts; a domain that
    merely ends with the same letters ('notmerseycare.nhs.uk') does not.
    Case-insensitive. Returns a boolean SQL expression (NULL domain -> false).
-#}
{%- macro is_staff_domain(domain_expr) -%}
    {%- set domains = var('staff_domains', ['merseycare.nhs.uk']) -%}
    {%- if domains is string -%}
        {%- set domains = domains.split(',') -%}
    {%- endif -%}
    {%- set cleaned = [] -%}
    {%- for d in domains if d | trim | length > 0 -%}
        {%- do cleaned.append(d | trim | lower) -%}
    {%- endfor -%}
    {%- if cleaned | length == 0 -%}
        false
    {%- else -%}
    coalesce((
        {%- for d in cleaned %}
        lower(trim({{ domain_expr }})) = '{{ d | replace("'", "''") }}'
        or {{ dbt.right('lower(trim(' ~ domain_expr ~ '))', (d | length) + 1) }} = '.{{ d | replace("'", "''") }}'
        {%- if not loop.last %} or {% endif -%}
        {%- endfor %}
    ), false)
    {%- endif -%}
{%- endmacro -%}
