"""What the member pages of every app share (the member site's own pages are in members/, the
complaints book's in feedback/)."""

from functools import wraps

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.validators import MaxLengthValidator
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.translation import ngettext

from loyalty.base.formats import num

PER_PAGE = 25


def member_required(view):
    """Logged in, with a membership; a user without one (staff) gets a friendly page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.member is None:
            return render(request, "members/no_member.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


class NoColon:
    """Labels without a trailing colon (the fields stand under their labels)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class CountedTextarea(forms.Textarea):
    """A textarea with a character counter under it ("123 of 4,000 characters").

    The counter is filled and shown by static/js/char_count.js, which the widget brings along
    (so only pages with a counter load a script; the member site allows its own script files,
    nothing inline); without it the help text says the limit and the form's error counts. Its
    words come from here, in the reader's language, with "{count}" left for the script to fill."""

    def __init__(self, *args, limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit = limit

    def render(self, name, value, attrs=None, renderer=None):
        attrs = dict(attrs or {})
        counter_id = f"{attrs.get('id') or 'id_' + name}_count"
        described = attrs.get("aria-describedby", "")
        attrs["aria-describedby"] = f"{described} {counter_id}".strip()
        textarea = super().render(name, value, attrs, renderer)
        count = len(str(value or "").replace("\r\n", "\n"))
        return format_html(
            '{}<p class="char-count" id="{}" data-limit="{}" data-within="{}" data-over="{}" '
            'hidden>{}</p><script src="{}" defer></script>',
            textarea,
            counter_id,
            self.limit,
            counter_text(limit=self.limit, count="{count}"),
            counter_text(limit=self.limit, count="{count}", over=True),
            counter_text(limit=self.limit, count=num(count), over=count > self.limit),
            static("js/char_count.js"),
        )


def counter_text(*, limit: int, count, over: bool = False) -> str:
    """The counter's words; the plural follows the limit (the number read with "characters")."""
    if over:
        text = ngettext(
            "%(count)s of %(limit)s character: too long, please shorten it",
            "%(count)s of %(limit)s characters: too long, please shorten it",
            limit,
        )
    else:
        text = ngettext(
            "%(count)s of %(limit)s character", "%(count)s of %(limit)s characters", limit
        )
    return text % {"count": count, "limit": num(limit)}


class LongTextField(forms.CharField):
    """Free text with a limit the member can see: a counter instead of the browser's silent
    `maxlength` (which stops typing and pasting without a word, so no error ever shows), and a
    form error that says by how much; the text stays in the form. Counts a line break as one
    character, as the services do (browsers send CR LF)."""

    def __init__(self, *, max_length: int, rows: int = 3, **kwargs):
        kwargs.setdefault("widget", CountedTextarea(attrs={"rows": rows}, limit=max_length))
        super().__init__(max_length=max_length, **kwargs)
        # (validate() says it instead of Django's MaxLengthValidator, with numbers as we write them)
        self.validators = [v for v in self.validators if not isinstance(v, MaxLengthValidator)]

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs

    def validate(self, value):
        super().validate(value)
        if value and len(value) > self.max_length:
            message = ngettext(
                "Please keep it to %(limit)s character or fewer: you wrote %(count)s.",
                "Please keep it to %(limit)s characters or fewer: you wrote %(count)s.",
                self.max_length,
            ) % {"limit": num(self.max_length), "count": num(len(value))}
            raise forms.ValidationError(message, code="max_length")
