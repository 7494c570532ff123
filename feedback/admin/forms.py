"""The forms of the feedback book's staff pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import ANSWER_MAX_LENGTH, CASE_MAX_LENGTH, LANGUAGE_CODES, AnswerTemplate
from .common import LANGUAGE_NAMES


class TemplatePickForm(forms.Form):
    """Sent with GET: the answer page reloads with the template's texts in the item's language."""

    template = forms.ModelChoiceField(
        label=_("Answer template"),
        queryset=AnswerTemplate.objects.none(),
        required=False,
        empty_label=_("(none: write the answer yourself)"),
    )

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates


class AnswerForm(forms.Form):
    required_css_class = "required"

    template = forms.ModelChoiceField(
        queryset=AnswerTemplate.objects.none(), required=False, widget=forms.HiddenInput
    )
    handler_name = forms.CharField(
        label=_("Handled by"),
        max_length=100,
        help_text=_("The name the member sees under the answer."),
    )
    what_was_done = forms.CharField(
        label=_("What was done"),
        max_length=ANSWER_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )
    what_changes = forms.CharField(
        label=_("What changes so it does not happen again"),
        max_length=ANSWER_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )
    close = forms.BooleanField(
        label=_("Close the item after answering"),
        required=False,
        help_text=_("Leave it open when more work or a further answer is to come."),
    )

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates


class CaseForm(forms.Form):
    required_css_class = "required"

    # Chosen with the page's language links (?language=), which prefill the texts.
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGE_CODES],
        widget=forms.HiddenInput,
    )
    problem = forms.CharField(
        label=_("You said"),
        max_length=CASE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text=_("The problem in a few anonymous words: no name, e-mail, phone or number."),
    )
    what_changed = forms.CharField(
        label=_("We did"),
        max_length=CASE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text=_("What changed because the member told us."),
    )


class AnswerTemplateForm(forms.ModelForm):
    class Meta:
        model = AnswerTemplate
        fields = (
            "name",
            "kind",
            "is_active",
            *(f"done_{code}" for code in LANGUAGE_CODES),
            *(f"changes_{code}" for code in LANGUAGE_CODES),
        )
        widgets = {
            f"{part}_{code}": forms.Textarea(attrs={"rows": 4, "cols": 80})
            for part in ("done", "changes")
            for code in LANGUAGE_CODES
        }

    def clean(self):
        cleaned = super().clean()
        written = [code for code in LANGUAGE_CODES if cleaned.get(f"changes_{code}")]
        if written and len(written) < len(LANGUAGE_CODES):
            for code in LANGUAGE_CODES:
                if code not in written and f"changes_{code}" not in self.errors:
                    self.add_error(
                        f"changes_{code}",
                        forms.ValidationError(
                            _(
                                "Write what changes in all six languages, or leave it empty "
                                "in all of them."
                            ),
                            code="all_or_none",
                        ),
                    )
        return cleaned
