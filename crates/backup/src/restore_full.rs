//! The full snapshot of a restore or a verify, fetched in one pass: the object's SHA-256 (what
//! its manifest records) and, for a plain snapshot, etcd's own SHA-256 trailer check come out
//! of the same digest while the bytes are copied. From a `file://` store the object is
//! hard-linked (or copied in the kernel, `copy_file_range`, across file systems) and read once.
//!
//! One digest serves both: SHA-256 runs over the image, a copy of its state at the image's end
//! gives the image's hash (to compare with the trailer), and the original goes on over the
//! 32 trailer bytes to give the object's hash.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

use crate::layout::{FullManifest, FullName};
use crate::remote::Store;

const TRAILER: u64 = 32;

/// Both digests of a full, fed its bytes in order.
pub struct FullDigest {
    hasher: Sha256,
    /// Bytes of image before the trailer, for a plain full (`None`: encrypted; its trailer is
    /// inside the ciphertext, checked when it is decrypted).
    image_len: Option<u64>,
    seen: u64,
    image_sha: Option<[u8; 32]>,
    trailer: Vec<u8>,
}

impl FullDigest {
    /// For a full of `object_size` bytes (as its manifest says).
    pub fn new(encrypted: bool, object_size: u64) -> FullDigest {
        let image_len = (!encrypted && store::snapshot::has_trailer(object_size))
            .then(|| object_size - TRAILER);
        FullDigest {
            hasher: Sha256::new(),
            image_len,
            seen: 0,
            image_sha: None,
            trailer: Vec::new(),
        }
    }

    pub fn update(&mut self, mut chunk: &[u8]) {
        if let Some(image) = self.image_len
            && self.seen < image
        {
            let take = usize::try_from(image - self.seen)
                .unwrap_or(usize::MAX)
                .min(chunk.len());
            self.hasher.update(&chunk[..take]);
            self.seen += take as u64;
            chunk = &chunk[take..];
            if self.seen == image {
                self.image_sha = Some(self.hasher.clone().finalize().into());
            }
        }
        if self.image_len.is_some_and(|image| self.seen >= image) {
            let room = (TRAILER as usize).saturating_sub(self.trailer.len());
            self.trailer
                .extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
        self.hasher.update(chunk);
        self.seen += chunk.len() as u64;
    }

    /// The object's SHA-256, and whether the image matched its trailer (`None`: not checked
    /// here, the rebuild checks it).
    pub fn finish(self) -> ([u8; 32], Option<bool>) {
        let trailer_ok = match (self.image_sha, self.trailer.len() == TRAILER as usize) {
            (Some(image), true) => Some(image[..] == self.trailer[..]),
            _ => None,
        };
        (self.hasher.finalize().into(), trailer_ok)
    }
}

/// What [`fetch_full`] established about the local copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image {
    /// The image matches etcd's trailer: no need to hash it again.
    Checked,
    /// Encrypted (the trailer is checked once decrypted) or without a trailer: the rebuild
    /// checks it as before.
    Unchecked,
}

/// Fetches `full` into `path` (a new file) and checks it against its manifest, and its image
/// against etcd's trailer, in one pass over the bytes.
pub async fn fetch_full(
    store: &Store,
    full: &FullName,
    manifest: &FullManifest,
    path: &Path,
) -> Result<Image, String> {
    match fetch_full_deferred(store, full, manifest, path).await? {
        FullFetch::Done(image) => Ok(image),
        FullFetch::Hashing(pending) => pending.wait(),
    }
}

/// A fetched full, or one whose digest is still being computed.
pub enum FullFetch {
    Done(Image),
    /// Linked from a `file://` store: the bytes are local already, and the one read that
    /// checks them runs on its own thread; its verdict is [`Image::Checked`] or the error
    /// [`fetch_full`] would have returned.
    Hashing(PendingDigest),
}

/// The digest of a linked full, running on its own thread.
pub struct PendingDigest {
    thread: Option<std::thread::JoinHandle<Result<Image, String>>>,
    cancel: Arc<AtomicBool>,
}

impl PendingDigest {
    /// Waits for the verdict.
    pub fn wait(mut self) -> Result<Image, String> {
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(verdict)) => verdict,
            _ => Err(
                "the thread checking the full's SHA-256 stopped before its verdict; nothing was written: run the restore again".into(),
            ),
        }
    }
}

impl Drop for PendingDigest {
    /// Not waited for (the restore failed before): stop reading.
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// [`fetch_full`], except that from a `file://` store the link (or copy) is made and the
/// digest that checks it is left running on a thread: the caller can start on the file while
/// it is hashed, and must not trust anything it derives from it before
/// [`PendingDigest::wait`] says `Ok`. Only a plain full with a trailer is deferred (its
/// verdict can only be `Checked`); an encrypted one is checked here as before.
pub async fn fetch_full_deferred(
    store: &Store,
    full: &FullName,
    manifest: &FullManifest,
    path: &Path,
) -> Result<FullFetch, String> {
    let object = full.object(store.prefix());
    let mut digest = FullDigest::new(full.encrypted, manifest.object_size);
    let size = match store.local_file(&object) {
        Some(src) => {
            link_or_copy(&src, path)?;
            if digest.image_len.is_some() {
                return Ok(FullFetch::Hashing(spawn_digest(
                    object,
                    manifest.clone(),
                    path.to_path_buf(),
                    digest,
                )));
            }
            read_into(path, &mut digest, &AtomicBool::new(false))?
        }
        None => store
            .get_to_file(&object, path, &mut |chunk| digest.update(chunk))
            .await
            .map_err(|e| e.to_string())?,
    };
    judge(&object, manifest, size, digest).map(FullFetch::Done)
}

fn spawn_digest(
    object: String,
    manifest: FullManifest,
    path: std::path::PathBuf,
    mut digest: FullDigest,
) -> PendingDigest {
    let cancel = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&cancel);
    let thread = std::thread::spawn(move || {
        let size = read_into(&path, &mut digest, &stop)?;
        judge(&object, &manifest, size, digest)
    });
    PendingDigest {
        thread: Some(thread),
        cancel,
    }
}

/// The verdict on a full of `size` bytes whose bytes went through `digest`.
fn judge(
    object: &str,
    manifest: &FullManifest,
    size: u64,
    digest: FullDigest,
) -> Result<Image, String> {
    let (sha, trailer_ok) = digest.finish();
    if size != manifest.object_size || hex::encode(sha) != manifest.object_sha256 {
        return Err(format!(
            "{object}: {size} bytes with SHA-256 {}, but the manifest says {} bytes with {}: the object is corrupt or was replaced; restore from another full (`lifeboat backup list` shows them)",
            hex::encode(sha),
            manifest.object_size,
            manifest.object_sha256
        ));
    }
    match trailer_ok {
        Some(true) => Ok(Image::Checked),
        Some(false) => Err(format!(
            "{object}: the object matches its manifest, but the snapshot's SHA-256 trailer does not match its image: it was corrupt when it was uploaded; restore from another full (`lifeboat backup list` shows them)"
        )),
        None => Ok(Image::Unchecked),
    }
}

/// Hard-links the store's file to `path` (a `file://` store writes each object once, by
/// rename, so the linked inode never changes under the restore), or copies it when the link
/// is refused (another file system).
fn link_or_copy(src: &Path, path: &Path) -> Result<(), String> {
    let local = |e: std::io::Error| format!("{}: {e}", path.display());
    if std::fs::hard_link(src, path).is_err() {
        use std::os::unix::fs::OpenOptionsExt;
        let (mut from, _) = inputs::open_regular(src, store::snapshot::SNAPSHOT_INPUT)
            .map_err(|e| format!("{}: {e}", src.display()))?;
        let mut to = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(local)?;
        // File to file: `copy_file_range` on Linux, the bytes never pass through here.
        std::io::copy(&mut from, &mut to).map_err(local)?;
    }
    Ok(())
}

/// Reads `path` once into `digest` (until `stop`), returning its size.
fn read_into(path: &Path, digest: &mut FullDigest, stop: &AtomicBool) -> Result<u64, String> {
    let local = |e: std::io::Error| format!("{}: {e}", path.display());
    let (mut file, _) = inputs::open_regular(path, store::snapshot::SNAPSHOT_INPUT)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(format!(
                "{}: not checked (the restore stopped)",
                path.display()
            ));
        }
        let n = file.read(&mut buf).map_err(local)?;
        if n == 0 {
            return Ok(size);
        }
        digest.update(&buf[..n]);
        size += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_bytes(image: &[u8]) -> Vec<u8> {
        let mut out = image.to_vec();
        out.extend_from_slice(&Sha256::digest(image));
        out
    }

    /// Fed in chunks that straddle the image's end every way, both digests come out as if
    /// each were computed on its own.
    #[test]
    fn one_pass_gives_the_object_and_the_image_digest() {
        let image: Vec<u8> = (0..1024u32).map(|i| (i * 7 % 251) as u8).collect();
        let object = snapshot_bytes(&image);
        for chunk in [1, 7, 31, 32, 33, 512, 1000, 1056, 4096] {
            let mut d = FullDigest::new(false, object.len() as u64);
            for c in object.chunks(chunk) {
                d.update(c);
            }
            let (sha, trailer_ok) = d.finish();
            assert_eq!(sha[..], Sha256::digest(&object)[..], "chunk {chunk}");
            assert_eq!(trailer_ok, Some(true), "chunk {chunk}");
        }
    }

    #[test]
    fn a_flipped_image_byte_fails_the_trailer() {
        let image = vec![5u8; 1024];
        let mut object = snapshot_bytes(&image);
        object[100] ^= 1;
        let mut d = FullDigest::new(false, object.len() as u64);
        d.update(&object);
        assert_eq!(d.finish().1, Some(false));
    }

    #[test]
    fn an_encrypted_full_is_only_hashed() {
        let object = snapshot_bytes(&[1u8; 1024]);
        let mut d = FullDigest::new(true, object.len() as u64);
        d.update(&object);
        let (sha, trailer_ok) = d.finish();
        assert_eq!(sha[..], Sha256::digest(&object)[..]);
        assert_eq!(trailer_ok, None);
    }
}
