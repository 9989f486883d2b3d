"""The CLI tests hash passwords with a cheap scrypt, as the web tests do (tests/web/conftest.py)."""
from tests.web.conftest import cheap_password_hashing  # noqa: F401 (autouse fixture)
