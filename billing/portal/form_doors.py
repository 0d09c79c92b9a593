"""The one shape of a billing page's settings form: validate, call one service, flash."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages

from config.errors import DomainError, page_error


def form_saved(request, form: forms.Form, save: Callable[[dict], object], message: str) -> bool:
    """Whether `form` was valid and `save(cleaned_data)` succeeded (then `message` is
    flashed); a domain error lands on the form, so the door answers 400 with it."""
    if not form.is_valid():
        return False
    try:
        save(form.cleaned_data)
    except DomainError as exc:
        page_error(request, exc, form=form)
        return False
    messages.success(request, message)
    return True
