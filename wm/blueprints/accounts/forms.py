"""Account forms (Flask-WTF: each carries its CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


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
