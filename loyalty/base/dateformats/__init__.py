"""Date and time formats where Django's own for a language do not suit the program
(settings.FORMAT_MODULE_PATH). Django looks here first and takes anything not set here from its
own locale; only display formats are set, so forms read dates as before.

- en: Django's English is American ("12/08/2026 5:53 p.m."), which staff and members across
  Europe read as 12 August. Day, month name and a 24-hour clock leave no doubt: "8 Dec 2026,
  17:53".
- bg: Django has no Bulgarian date-time formats and falls back to the American defaults
  ("Dec. 8, 2026, 5:53 p.m."); these are its Bulgarian short date and a 24-hour clock
  ("08.12.2026 17:53")."""
