# Bulgarian date-times with the numeric date of Django's Bulgarian SHORT_DATE_FORMAT (see the
# package's doc; Django's Bulgarian month names are capitalised, so no month name here).
DATETIME_FORMAT = "d.m.Y H:i"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
