"""The CRM database and the files beside it (see db.py). Opened as Store.reader(path) for views,
Store.writer(path, ...) for anything that writes."""

from .db import Store
from .records import identity
from .schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Store", "identity"]
