"""Forms of the accounts pages and API (the API reuses them for validation)."""

from __future__ import annotations

import unicodedata

from django import forms
from django.contrib.auth import get_user_model, password_validation

from sessionadmin.auth.forms import LimitedPasswordChangeForm
from sessionadmin.tokens import MAX_NAME as MAX_TOKEN_NAME

USERNAME_TAKEN = "That username is taken."


class RegisterForm(forms.Form):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )

    def clean_username(self) -> str:
        # One account per name a person sees: "Bob" in full-width letters is "Bob", and sign-in
        # ignores case, so "bob" and "BOB" are the same name too.
        username = unicodedata.normalize("NFKC", self.cleaned_data["username"]).strip()
        model = get_user_model()
        model.username_validator(username)
        if "@" in username:
            # Sign-in takes a username or an email: a name shaped like an address could
            # shadow someone's email.
            raise forms.ValidationError("A username cannot contain @.")
        if model._default_manager.filter(username__iexact=username).exists():
            raise forms.ValidationError(USERNAME_TAKEN)
        return username

    def clean_email(self) -> str:
        email = get_user_model()._default_manager.normalize_email(self.cleaned_data["email"])
        if get_user_model()._default_manager.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with that email already exists.")
        return email

    def clean(self) -> dict:
        data = super().clean()
        if "password" in data:
            candidate = get_user_model()(
                username=data.get("username", ""), email=data.get("email", "")
            )
            try:
                password_validation.validate_password(data["password"], candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return data


class LoginForm(forms.Form):
    username = forms.CharField(
        max_length=254,
        label="Username or email",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}), strip=False
    )


class TokenForm(LoginForm):
    """A sign-in for a token: the same credentials, and a label for the device."""

    name = forms.CharField(max_length=MAX_TOKEN_NAME)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name or len(name.encode()) > 60:  # kept beside the session, compactly
            raise forms.ValidationError("Give the token a short name, such as 'CI runner'.")
        return name


class PasswordChangeForm(LimitedPasswordChangeForm):
    """Django's form (old password under the login limit), with the API's field names."""

    def __init__(self, user, data=None, **kwargs) -> None:
        if data is not None and "new_password" in data and "new_password1" not in data:
            data = {**data, "new_password1": data["new_password"]}
            data["new_password2"] = data["new_password"]
        super().__init__(user, data, **kwargs)
