# Bulgarian as CLDR has it (see the package's doc): "6 декември 2026 г.",
# "6 декември 2026 г., 17:54"; in lists "6.12.2026 г., 17:54"; "декември 2026 г.".
# CLDR puts a narrow no-break space (U+202F) before "г." so the year keeps its word.
DATE_FORMAT = "j E Y\u202fг."
TIME_FORMAT = "G:i"
DATETIME_FORMAT = "j E Y\u202fг., G:i"
SHORT_DATE_FORMAT = "j.m.Y\u202fг."
SHORT_DATETIME_FORMAT = "j.m.Y\u202fг., G:i"
YEAR_MONTH_FORMAT = "F Y\u202fг."
MONTH_DAY_FORMAT = "j E"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"
NUMBER_GROUPING = 3
