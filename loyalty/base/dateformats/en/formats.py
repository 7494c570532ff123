# English for a program in Europe, day first and a 24-hour clock (see the package's doc):
# "8 December 2026", "8 December 2026, 17:53"; in lists "8 Dec 2026, 17:53".
DATE_FORMAT = "j F Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
