"""Staff pages of the feedback book: the queue, answers, thanks, publication and the figures.

The admin is thin. An item's severity and assignee are edited on its page but saved only
through feedback.services (feedback_set_severity, feedback_assign); answering, thanking,
closing and publishing are pages of their own that call one service each. A service's error
(a LoyaltyError) becomes a form error or an admin message, never a server error. Items are
filed by members and partners, never added here, and are never deleted (they are history).
"""

from . import book, items  # noqa: F401 (each registers its admins)
