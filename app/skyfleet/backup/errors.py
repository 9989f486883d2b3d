"""The one error the backup package raises: its message is what the operator reads."""


class BackupError(RuntimeError):
    pass
