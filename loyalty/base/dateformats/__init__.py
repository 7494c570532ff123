"""Date, time and number formats of our six languages as the Unicode CLDR has them
(settings.FORMAT_MODULE_PATH). Django looks here first and takes anything not set here from its
own locale; only display formats are set, so forms read dates as before.

Django's own are off in places: English is American ("12/08/2026 5:53 p.m.", read across
Europe as 12 August), Bulgarian has no date-times and falls back to the American ones ("Дек. 6,
2026, 5:54 след обяд"), Russian and Polish lists lack CLDR's comma, Lithuanian groups thousands
with a dot. Each module follows CLDR's long date, its short time with CLDR's glue between the
two, its yMMMM and MMMMd skeletons and its number symbols (en: en_150, English in Europe).
Month names come from CLDR too (loyalty.base.months): "6 декември 2026 г.", "grudzień 2026".
tests/test_locale_forms.py holds each language's expected strings."""
