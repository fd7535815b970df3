"""Account forms (Flask-WTF: each carries its CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class RegisterForm(FlaskForm):
    handle = StringField("Handle", validators=[DataRequired(), Length(max=30)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class LoginForm(FlaskForm):
    login = StringField("Handle or email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me logged in")


class EmailForm(FlaskForm):
    email = EmailField("New email", validators=[DataRequired(), Length(max=254)])
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
