"""The earning rules in SQL, for a whole import at once: loyalty.core.earning.calculate, set-based.

The one place the rules are written in SQL (whether the points wait out a return window is
imports.purchases_sql's: what a purchase earns is the same either way). It reads the
staged purchases (`import_purchase0`: pid, amount, on_date, tier multiplier and name, points
given, number of lines) and their lines (`import_line`: pid, line_no, amount, category; a
purchase without lines has one line of its whole amount), and gives what earning.calculate
returns, to the digit:

- each line earns at the best rate among the active rules of the partner (or of every partner)
  whose window holds the purchase's local day, whose minimum the purchase reaches and whose
  category is empty or the line's (ties: a category rule, then the lower id);
- the largest promotion covering a rated line multiplies it (same ties; both chosen by one
  join with the few rules and DISTINCT ON, BEST_RATES and BEST_PROMOTIONS);
- the tier multiplier (the member's tier on the purchase's day) applies to the sum, rounded
  down once: `import_earned.points`;
- `import_earned.explanation` holds the same parts (rate, promotion, tier, rounding) in the
  same order and with the same numbers as text; each line keeps what it earned before rounding
  and why (`import_line.points_earned`, `earning`).

A purchase with points given (history from another program) earns those, explained as one
"given" part. numeric is exact, as Decimal is, so both give the same figures
(tests/imports/test_earning_parity.py).
"""

from __future__ import annotations

RULES = """
CREATE TEMP TABLE import_rule AS
SELECT id, name, points_per_unit, multiplier, min_amount, category, valid_from, valid_until
FROM loyalty_earningrule
WHERE is_active AND (partner_id IS NULL OR partner_id = %(partner_id)s)
"""

_APPLIES = """
    (r.valid_from IS NULL OR r.valid_from <= p.on_date)
    AND (r.valid_until IS NULL OR r.valid_until >= p.on_date)
    AND (r.min_amount IS NULL OR p.amount >= r.min_amount)
    AND (r.category = '' OR r.category = l.category)
"""

# The best rate and the largest promotion of each line: a join with the few rules and DISTINCT
# ON, sorted once (a LATERAL subquery per line costs several times more on a big file).
_BEST = """
CREATE TEMP TABLE {table} AS
SELECT DISTINCT ON (l.pid, l.line_no) l.pid, l.line_no, r.id, r.name, r.{value} AS value
FROM import_line l
JOIN import_purchase0 p ON p.pid = l.pid
JOIN import_rule r ON r.multiplier IS {null} AND {applies} {extra}
WHERE p.points_given IS NULL
ORDER BY l.pid, l.line_no, r.{value} DESC, (r.category <> '') DESC, r.id
"""

BEST_RATES = _BEST.format(
    table="import_line_rate", value="points_per_unit", null="NULL", applies=_APPLIES,
    extra="AND l.amount > 0",
)  # fmt: skip
BEST_PROMOTIONS = _BEST.format(
    table="import_line_promo", value="multiplier", null="NOT NULL", applies=_APPLIES, extra=""
)

LINE_EARNINGS = """
CREATE TEMP TABLE import_line_earning AS
SELECT l.pid, l.line_no, l.amount,
    rate.id AS rate_id, rate.name AS rate_name, rate.value AS ppu,
    promo.id AS promo_id, promo.name AS promo_name, promo.value AS mult,
    l.amount * rate.value AS rate_points,
    l.amount * rate.value * (promo.value - 1) AS extra
FROM import_line l
JOIN import_purchase0 p ON p.pid = l.pid
LEFT JOIN import_line_rate rate ON rate.pid = l.pid AND rate.line_no = l.line_no
LEFT JOIN import_line_promo promo
    ON promo.pid = l.pid AND promo.line_no = l.line_no AND rate.id IS NOT NULL
WHERE p.points_given IS NULL
"""

# What each line earned before rounding (× the tier) and why.
LINES_UPDATE = """
UPDATE import_line l SET
    points_earned = (COALESCE(e.rate_points, 0) + COALESCE(e.extra, 0)) * p.tier_multiplier,
    earning = CASE WHEN e.rate_id IS NULL THEN '{}'::jsonb ELSE
        jsonb_build_object(
            'rule_id', e.rate_id, 'rule', e.rate_name,
            'points_per_unit', trim_scale(e.ppu)::text,
            'tier', p.tier_name, 'tier_multiplier', trim_scale(p.tier_multiplier)::text
        ) || CASE WHEN e.promo_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(
            'promotion_id', e.promo_id, 'promotion', e.promo_name,
            'multiplier', trim_scale(e.mult)::text
        ) END
    END
FROM import_line_earning e, import_purchase0 p
WHERE e.pid = l.pid AND e.line_no = l.line_no AND p.pid = l.pid AND l.real
"""


# A part of an explanation, as earning.calculate words it (numbers as text without trailing
# zeros: trim_scale, as earning._plain).
def _part(kind: str, **fields: str) -> str:
    pairs = ", ".join(f"'{name}', {value}" for name, value in fields.items())
    return f"jsonb_build_object('type', '{kind}', {pairs})"


_TIER = _part(
    "tier",
    tier="p.tier_name",
    multiplier="trim_scale(p.tier_multiplier)::text",
    points="trim_scale(b.base * p.tier_multiplier - b.base)::text",
)
_ROUNDING = _part(
    "rounding",
    points="trim_scale(floor(b.base * p.tier_multiplier) - b.base * p.tier_multiplier)::text",
)

# The purchase's points and explanation: its rate parts, then its promotion parts (each in the
# order of the first line it covered), the tier's part and the rounding. A purchase of one line
# (most are) has its parts straight from that line's row; one of several lines sums by rule.
EARNED = f"""
CREATE TEMP TABLE import_earned AS
WITH one AS (
    SELECT e.*, COALESCE(e.rate_points, 0) + COALESCE(e.extra, 0) AS base
    FROM import_line_earning e JOIN import_purchase0 p ON p.pid = e.pid
    WHERE p.lines = 1
), many_base AS (
    SELECT e.pid, SUM(COALESCE(e.rate_points, 0) + COALESCE(e.extra, 0)) AS base
    FROM import_line_earning e JOIN import_purchase0 p ON p.pid = e.pid
    WHERE p.lines > 1 GROUP BY e.pid
), many_parts AS (
    SELECT pid, 1 AS kind, MIN(line_no) AS first, {
    _part(
        "rate",
        rule_id="rate_id",
        rule="rate_name",
        amount="SUM(amount)::text",
        points_per_unit="trim_scale(ppu)::text",
        points="trim_scale(SUM(rate_points))::text",
    )
} AS part
    FROM import_line_earning WHERE rate_id IS NOT NULL AND pid IN (SELECT pid FROM many_base)
    GROUP BY pid, rate_id, rate_name, ppu
    UNION ALL
    SELECT pid, 2, MIN(line_no), {
    _part(
        "promotion",
        rule_id="promo_id",
        rule="promo_name",
        amount="SUM(amount)::text",
        multiplier="trim_scale(mult)::text",
        points="trim_scale(SUM(extra))::text",
    )
}
    FROM import_line_earning WHERE promo_id IS NOT NULL AND pid IN (SELECT pid FROM many_base)
    GROUP BY pid, promo_id, promo_name, mult
), many_explained AS (
    SELECT pid, jsonb_agg(part ORDER BY kind, first) AS parts FROM many_parts GROUP BY pid
)
SELECT b.pid, floor(b.base * p.tier_multiplier)::bigint AS points,
    CASE WHEN b.rate_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array({
    _part(
        "rate",
        rule_id="b.rate_id",
        rule="b.rate_name",
        amount="b.amount::text",
        points_per_unit="trim_scale(b.ppu)::text",
        points="trim_scale(b.rate_points)::text",
    )
}) END
    || CASE WHEN b.promo_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array({
    _part(
        "promotion",
        rule_id="b.promo_id",
        rule="b.promo_name",
        amount="b.amount::text",
        multiplier="trim_scale(b.mult)::text",
        points="trim_scale(b.extra)::text",
    )
}) END
    || CASE WHEN b.base <> 0 AND p.tier_multiplier <> 1
        THEN jsonb_build_array({_TIER}) ELSE '[]'::jsonb END
    || CASE WHEN b.base * p.tier_multiplier <> floor(b.base * p.tier_multiplier)
        THEN jsonb_build_array({_ROUNDING}) ELSE '[]'::jsonb END AS explanation
FROM one b JOIN import_purchase0 p ON p.pid = b.pid
UNION ALL
SELECT b.pid, floor(b.base * p.tier_multiplier)::bigint,
    COALESCE(x.parts, '[]'::jsonb)
    || CASE WHEN b.base <> 0 AND p.tier_multiplier <> 1
        THEN jsonb_build_array({_TIER}) ELSE '[]'::jsonb END
    || CASE WHEN b.base * p.tier_multiplier <> floor(b.base * p.tier_multiplier)
        THEN jsonb_build_array({_ROUNDING}) ELSE '[]'::jsonb END
FROM many_base b JOIN import_purchase0 p ON p.pid = b.pid
LEFT JOIN many_explained x ON x.pid = b.pid
UNION ALL
SELECT pid, points_given, jsonb_build_array(
    jsonb_build_object('type', 'given', 'points', points_given::text)
)
FROM import_purchase0 WHERE points_given IS NOT NULL
"""


def earnings_compute(cursor, *, partner_id: int) -> None:
    """The staged purchases' points and explanations (import_earned: pid, points,
    explanation) and their lines' earnings (import_line.points_earned, earning)."""
    cursor.execute(
        "DROP TABLE IF EXISTS import_rule, import_line_rate, import_line_promo, import_line_earning"
    )
    cursor.execute(RULES, {"partner_id": partner_id})
    cursor.execute(BEST_RATES)
    cursor.execute(BEST_PROMOTIONS)
    cursor.execute(LINE_EARNINGS)
    cursor.execute(LINES_UPDATE)
    cursor.execute(EARNED)
