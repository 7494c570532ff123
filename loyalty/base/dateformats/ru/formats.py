# Russian as CLDR has it (see the package's doc): "6 декабря 2026 г." (the month in the
# genitive), "6 декабря 2026 г., 17:54"; in lists "06.12.2026, 17:54"; "декабрь 2026 г.".
DATE_FORMAT = "j E Y\u202fг."
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j E Y\u202fг., H:i"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y, H:i"
YEAR_MONTH_FORMAT = "F Y\u202fг."
MONTH_DAY_FORMAT = "j E"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"
NUMBER_GROUPING = 3
