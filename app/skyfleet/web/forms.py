"""The forms of the pages (Flask-WTF: every form carries the CSRF token)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..accounts import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class UserCreateForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, message=f"at least {MIN_PASSWORD_LENGTH} characters"),
        Length(max=1024)])
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "passwords differ")])
    admin = BooleanField("Admin")


class PasswordSetForm(FlaskForm):
    password = PasswordField("New password", validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, message=f"at least {MIN_PASSWORD_LENGTH} characters"),
        Length(max=1024)])
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "passwords differ")])


class ButtonForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
