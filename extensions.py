"""Flask extensions, created unbound here and bound to the app in ``create_app``."""

from pathlib import Path
from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints: migrations can then drop or alter them the same way on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# Models subclass this. A type checker cannot take a base class from an object's attribute
# (db.Model); Base is what Flask-SQLAlchemy builds db.Model from, adding its query property.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
# Only the sign-in form is limited (views/auth.py); the storage (memory:// or REDIS_URL) is set per
# app in security.py. The rest is fixed here: Flask-Limiter keeps these from the first init_app.
limiter = Limiter(key_func=get_remote_address, key_prefix="capreq-login", strategy="fixed-window",
                  headers_enabled=True, swallow_errors=True, in_memory_fallback_enabled=True)
# Absolute, so ``flask db ...`` works from any working directory; batch mode lets SQLite
# alter tables; compare_type makes autogenerate notice column type changes.
migrate = Migrate(directory=str(Path(__file__).resolve().parent / "migrations"),
                  compare_type=True, render_as_batch=True)
