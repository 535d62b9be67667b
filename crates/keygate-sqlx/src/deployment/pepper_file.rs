//! The pepper file: read it (refusing one other users can read), or create it once,
//! atomically, readable by its owner only.

use std::io::Write as _;
use std::path::Path;

use keygate_core::Pepper;
use secrecy::ExposeSecret;

use super::error::SetupError;

/// The pepper file's name, next to the SQLite file (or in the working directory).
pub const PEPPER_FILE_NAME: &str = "keygate.pepper";

/// The pepper in `path`; `None` when there is no such file.
pub(super) fn read_pepper_file(path: &Path) -> Result<Option<Pepper>, SetupError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => zeroize::Zeroizing::new(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SetupError::PepperFile {
                path: path.to_owned(),
                source,
            });
        }
    };
    check_private(path)?;
    Pepper::from_base64(&text)
        .map(Some)
        .map_err(|_| SetupError::PepperFileInvalid(path.to_owned()))
}

/// Writes a new pepper to `path`, readable by its owner only, atomically: the pepper goes
/// to a temporary file beside it, which is then linked to `path` only if `path` does not
/// exist. A crash leaves no half-written pepper file, and of two processes starting at
/// once exactly one file wins; the other reads it. The flag says whether this call wrote
/// it.
pub(super) fn create_pepper_file(path: &Path) -> Result<(Pepper, bool), SetupError> {
    let pepper = Pepper::generate().map_err(|_| SetupError::Random)?;
    let io_error = |source| SetupError::PepperFile {
        path: path.to_owned(),
        source,
    };
    // Unique per process and moment; `create_new` refuses a clash rather than share.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let temporary = path.with_file_name(format!(
        ".{PEPPER_FILE_NAME}.{}.{nanos}.tmp",
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(pepper.to_base64().expose_secret().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    // A filesystem without hard links (some network and FUSE mounts) gets the plain
    // exclusive create: not crash-atomic, still never an overwrite.
    let linked = match linked {
        Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
            write_exclusively(path, &pepper)
        }
        other => other,
    };
    match linked {
        Ok(()) => {
            sync_directory_of(path);
            Ok((pepper, true))
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let theirs = read_pepper_file(path)?
                .ok_or_else(|| io_error(std::io::ErrorKind::NotFound.into()))?;
            Ok((theirs, false))
        }
        Err(err) => Err(io_error(err)),
    }
}

/// Writes `pepper` to a new file at `path` (mode 0600), refusing an existing one.
fn write_exclusively(path: &Path, pepper: &Pepper) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(pepper.to_base64().expose_secret().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Makes the new directory entry of `path` durable before the database records the
/// pepper's id: otherwise a crash could keep the record and lose the file.
fn sync_directory_of(path: &Path) {
    #[cfg(unix)]
    {
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if let Err(error) = std::fs::File::open(directory).and_then(|dir| dir.sync_all()) {
            tracing::warn!(%error, "could not sync the pepper file's directory");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Refuses a pepper file that other users can read.
fn check_private(path: &Path) -> Result<(), SetupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|source| SetupError::PepperFile {
                path: path.to_owned(),
                source,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(SetupError::PepperFileExposed {
                path: path.to_owned(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
