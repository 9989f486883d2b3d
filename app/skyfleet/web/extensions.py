"""Flask extensions, created unbound and bound to the app in create_app()."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from ..models import Base

# Objects stay readable after commit (a request answers from what it just wrote, without re-reading it).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
