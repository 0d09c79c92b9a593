"""Login forms that refuse an over-long username before anything stores it."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

# The email field's length, within django-axes' varchar(255) for the attempted username.
USERNAME_MAX_LENGTH = 254


class UsernameLengthMixin:
    """Django sets the username field's max_length after the field is built, so no validator
    checks it, and django-axes stores the attempted username in a varchar(255): a longer one
    was a DataError (500). Field validation runs before `clean()` authenticates."""

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if len(username) > USERNAME_MAX_LENGTH:
            raise forms.ValidationError(
                f"Enter an email address of at most {USERNAME_MAX_LENGTH} characters.",
                code="max_length",
            )
        return username


class LoginForm(UsernameLengthMixin, AuthenticationForm):
    pass


class AdminLoginForm(UsernameLengthMixin, AdminAuthenticationForm):
    pass
