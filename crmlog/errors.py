"""Fatal errors. Each class carries its sysexits.h status; cli.py turns them into exits."""


class CrmlogError(Exception):
    exit_code = 70  # EX_SOFTWARE

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class DataError(CrmlogError):
    """The database is corrupt or of an unknown schema (EX_DATAERR)."""

    exit_code = 65


class MailboxError(CrmlogError):
    """A mailbox path is missing or unreadable (EX_NOINPUT)."""

    exit_code = 66


class NoDatabase(CrmlogError):
    """A view or edit names a database that does not exist (EX_NOINPUT): a mistyped --db
    must not look like an empty CRM."""

    exit_code = 66


class StorageIOError(CrmlogError):
    """The database or attachment store cannot be read or written: an unwritable data
    directory, a full disk (EX_IOERR). Whatever was on disk before is left whole."""

    exit_code = 74


class LockBusy(CrmlogError):
    """Another run holds the lock (EX_TEMPFAIL)."""

    exit_code = 75


class ConfigError(CrmlogError):
    """The configuration is missing or invalid (EX_CONFIG)."""

    exit_code = 78


class NotFound(CrmlogError):
    """A record named on the command line does not exist."""

    exit_code = 1


class InUse(CrmlogError):
    """A change refused because of what the CRM holds (a user with e-mails attributed, an
    undo while a newer run stands): nothing was changed."""

    exit_code = 1


class UsageError(CrmlogError):
    """A value given on the command line is not acceptable (EX_USAGE, as Click's own)."""

    exit_code = 2
