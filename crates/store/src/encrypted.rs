//! age-encrypted snapshot files (`FILE.age`, written by `snapshot save --encrypt-to`): read
//! through a decrypting view with random access, so verify, inspect and restore work on them
//! without the plaintext ever touching the disk. Every chunk is authenticated as it is
//! decrypted, so a tampered file fails the first read that touches the damage (and the
//! SHA-256 pass touches every byte).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// What every age v1 file starts with.
pub const MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// Plaintext bytes per age STREAM chunk: the unit of decryption and of our cache.
const CHUNK: u64 = 64 * 1024;
/// Decrypted chunks kept (4 MiB): a tree walk revisits neighbouring pages often.
const CACHED: usize = 64;

/// Identities (secret keys) that may open a file.
pub struct Identities {
    ids: Vec<Box<dyn age::Identity + Send + Sync>>,
    pub path: PathBuf,
    /// The public keys of its X25519 identities: what a file derived from one it opened is
    /// encrypted to, so that what was encrypted stays encrypted.
    pub recipients: Vec<age::x25519::Recipient>,
    /// Every identity is X25519 (none is a plugin's), so `recipients` covers them all.
    pub all_x25519: bool,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Identities({} from {})",
            self.ids.len(),
            self.path.display()
        )
    }
}

fn schema(path: &Path, what: String) -> Error {
    Error::Schema {
        path: path.to_path_buf(),
        what,
    }
}

impl Identities {
    /// An age identity file (`AGE-SECRET-KEY-1...` lines, `#` comments).
    pub fn load(path: &Path) -> Result<Identities> {
        let bytes = inputs::read(path, inputs::Kind::AGE_KEYS)
            .map_err(|e| schema(path, format!("{}: {}", e.kind.name, e.problem)))?;
        let recipients = x25519_public_keys(&bytes);
        let file = age::IdentityFile::from_buffer(&bytes[..])
            .map_err(|e| schema(path, format!("cannot read the identity file: {e}")))?;
        let ids = file
            .into_identities()
            .map_err(|e| schema(path, format!("not a usable age identity file: {e}")))?;
        if ids.is_empty() {
            return Err(schema(path, "holds no age identity".into()));
        }
        Ok(Identities {
            all_x25519: recipients.len() == ids.len(),
            ids,
            path: path.to_path_buf(),
            recipients,
        })
    }

    /// Decrypts a small age file read whole (a `kube delete` backup), `path` naming it.
    pub fn decrypt(&self, path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
        let dec = age::Decryptor::new(bytes)
            .map_err(|e| schema(path, format!("not a readable age file: {e}")))?;
        let mut reader = dec
            .decrypt(self.ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| {
                schema(
                    path,
                    format!("cannot decrypt with {}: {e}", self.path.display()),
                )
            })?;
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .map_err(|e| schema(path, format!("damaged or tampered age file: {e}")))?;
        Ok(out)
    }

    /// Identities already in memory (the throwaway key `snapshot save` checks its output with).
    pub fn from_keys(keys: Vec<Box<dyn age::Identity + Send + Sync>>) -> Identities {
        Identities {
            ids: keys,
            path: PathBuf::from("<memory>"),
            recipients: Vec::new(),
            all_x25519: false,
        }
    }
}

/// The recipients of the `AGE-SECRET-KEY-1...` lines (the secret keys stay where they are).
fn x25519_public_keys(text: &[u8]) -> Vec<age::x25519::Recipient> {
    use std::str::FromStr;
    String::from_utf8_lossy(text)
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .filter_map(|l| age::x25519::Identity::from_str(l).ok())
        .map(|id| id.to_public())
        .collect()
}

/// The file starts with the age header (read at offset 0, the file's own offset untouched).
pub fn starts_with_magic(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; MAGIC.len()];
    file.read_exact_at(&mut head, 0).is_ok() && head == MAGIC
}

/// The file starts with the age header.
pub fn is_age(path: &Path) -> bool {
    // Type-checked first: opening a FIFO to peek at it would block.
    inputs::open_regular(path, crate::snapshot::SNAPSHOT_INPUT)
        .is_ok_and(|(file, _)| starts_with_magic(&file))
}

struct Inner {
    reader: age::stream::StreamReader<BufReader<File>>,
    cache: VecDeque<(u64, Arc<Vec<u8>>)>,
}

/// The plaintext of an age file, readable at any offset.
pub struct AgeSource {
    path: PathBuf,
    inner: Mutex<Inner>,
    len: u64,
}

impl std::fmt::Debug for AgeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AgeSource({}, {} plaintext bytes)",
            self.path.display(),
            self.len
        )
    }
}

impl AgeSource {
    pub fn open(path: &Path, ids: &Identities) -> Result<AgeSource> {
        let (file, _) = inputs::open_regular(path, crate::snapshot::SNAPSHOT_INPUT)
            .map_err(|e| schema(path, format!("{}: {}", e.kind.name, e.problem)))?;
        AgeSource::open_file(path, file, ids)
    }

    /// [`AgeSource::open`] of a file already opened (and type-checked) by the caller.
    pub fn open_file(path: &Path, file: File, ids: &Identities) -> Result<AgeSource> {
        let dec =
            age::Decryptor::new_buffered(BufReader::with_capacity(CHUNK as usize + 4096, file))
                .map_err(|e| schema(path, format!("not a readable age file: {e}")))?;
        let mut reader = dec
            .decrypt(ids.ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| {
                schema(
                    path,
                    format!("cannot decrypt with {}: {e}", ids.path.display()),
                )
            })?;
        // Seeking to the end authenticates the last chunk and gives the plaintext length.
        let len = reader
            .seek(SeekFrom::End(0))
            .map_err(|e| schema(path, format!("damaged or tampered age file: {e}")))?;
        Ok(AgeSource {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                reader,
                cache: VecDeque::new(),
            }),
            len,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn chunk(&self, inner: &mut Inner, index: u64) -> io::Result<Arc<Vec<u8>>> {
        if let Some(pos) = inner.cache.iter().position(|(i, _)| *i == index)
            && let Some(hit) = inner.cache.remove(pos)
        {
            let data = Arc::clone(&hit.1);
            inner.cache.push_front(hit);
            return Ok(data);
        }
        let start = index * CHUNK;
        let want = CHUNK.min(self.len.saturating_sub(start)) as usize;
        let mut buf = vec![0u8; want];
        inner.reader.seek(SeekFrom::Start(start))?;
        inner.reader.read_exact(&mut buf)?;
        let data = Arc::new(buf);
        inner.cache.push_front((index, Arc::clone(&data)));
        inner.cache.truncate(CACHED);
        Ok(data)
    }
}

impl bolt::Source for AgeSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|e| *e <= self.len)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("decryption state poisoned"))?;
        let mut at = offset;
        while at < end {
            let index = at / CHUNK;
            let data = self.chunk(&mut inner, index)?;
            let from = (at - index * CHUNK) as usize;
            let n = (data.len() - from).min((end - at) as usize);
            let dst = (at - offset) as usize;
            buf[dst..dst + n].copy_from_slice(&data[from..from + n]);
            at += n as u64;
        }
        Ok(())
    }
}

/// The first `len` bytes of a shared source (the bbolt region before the trailer).
pub struct Region {
    pub src: Arc<AgeSource>,
    pub len: u64,
}

impl bolt::Source for Region {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.len)
        {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.src.read_exact_at(buf, offset)
    }
}
