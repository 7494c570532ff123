"""Checks on uploaded reward images: size here; type by extension and by Pillow's decoding."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_IMAGE_BYTES = 2 * 1024 * 1024


def validate_image_size(file) -> None:
    if file and file.size > MAX_IMAGE_BYTES:
        raise ValidationError(_("The image is larger than 2 MB."), code="image_too_large")
