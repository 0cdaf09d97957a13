"""The CRM's storage, by job: the interface an engine implements (engine.py), the embedded
engine over one JSON file (jsonfile.py: TinyDB, files.py, lock.py, schema.py) with its bodies
and attachments (blobs.py), the pure projection of a decision into records (project.py), the
mailboxes' state (state.py), attachments copied out (export.py), and the unit of work a run
or a view opens (db.py: Store)."""

from .db import Store
from .jsonfile import LOCK_TIMEOUT
from .schema import SCHEMA_VERSION

__all__ = ["LOCK_TIMEOUT", "SCHEMA_VERSION", "Store"]
