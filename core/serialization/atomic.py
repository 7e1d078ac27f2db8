"""Writing a file so that readers only ever see the old content or the complete new content."""
import os
import secrets


def write_atomically(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    A crash or an exception mid-write leaves ``path`` untouched (an exception also removes the temporary
    file; a killed process may leave a hidden ``.<name>.<random>.tmp`` behind, never a torn checkpoint).
    """
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save {path}: the folder {folder} does not exist")
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
    # 0o666 lets the umask decide the mode, as for a plainly opened file (mkstemp would force 0o600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    # makes the rename itself durable; folders cannot be opened this way on Windows
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
