"""Account forms (Flask-WTF: each carries its CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from wm.services.accounts.tokens import EXPIRY_DAYS, NAME_LENGTH, SCOPE_TITLES
from wm.validation import int_or_none


class RegisterForm(FlaskForm):
    # No validators here: the accounts service checks every field and reports all problems at once.
    handle = StringField("Handle")
    email = EmailField("Email")
    password = PasswordField("Password")


class LoginForm(FlaskForm):
    login = StringField("Handle or email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me logged in on this device")


class LogoutForm(FlaskForm):
    """Only its CSRF token: logging out is a post."""


class EmailForm(FlaskForm):
    email = EmailField("New email", validators=[DataRequired(), Length(max=254)])
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])


def _days(value: object) -> int:
    # Anything but a plain number becomes 0, which the tokens service refuses with the choices it takes.
    return int_or_none(str(value), maximum=max(EXPIRY_DAYS)) or 0


class TokenForm(FlaskForm):
    """A new personal access token. Only the choices are set here: the tokens service checks every value (the
    scopes against what the account may give) and reports all problems at once."""

    name = StringField("Name", description="What uses it, e.g. “upload script on my laptop”",
                       render_kw={"maxlength": NAME_LENGTH})
    scopes = SelectMultipleField("Scopes", default=["read"], validate_choice=False,
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    days = SelectField("Expires after", choices=[SelectChoice(days, f"{days} days") for days in EXPIRY_DAYS],
                       default=30, coerce=_days, validate_choice=False)

    def offer_scopes(self, scopes: list) -> None:
        """Show a checkbox for each of ``scopes``: those the account may give."""
        self.scopes.choices = [SelectChoice(str(scope), SCOPE_TITLES[scope]) for scope in scopes]
