# Lithuanian as CLDR has it (see the package's doc): "2026 m. gruodžio 6 d." (the month in the
# genitive), "2026 m. gruodžio 6 d. 17:54"; in lists "2026-12-06 17:54"; "2026 m. gruodis".
DATE_FORMAT = r"Y \m. E j \d."
TIME_FORMAT = "H:i"
DATETIME_FORMAT = r"Y \m. E j \d. H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
YEAR_MONTH_FORMAT = r"Y \m. F"
MONTH_DAY_FORMAT = r"E j \d."
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"
NUMBER_GROUPING = 3
