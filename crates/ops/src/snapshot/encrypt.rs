//! `snapshot save --encrypt-to`: the stream from etcd goes through an age encryptor on its
//! way to disk, so no plaintext byte is ever written.
//!
//! The file is also encrypted to a throwaway X25519 key that lives only in memory for the
//! duration of the save: it lets the save decrypt its own output to prove it sound (SHA-256
//! trailer, bbolt structure, etcd schema) before naming it, exactly as for a plain save. The
//! key is dropped afterwards, so only the operator's recipients can open the file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;
use std::thread::JoinHandle;

use age::x25519::{Identity, Recipient};
use store::encrypted::Identities;

use super::readback::{self, Plain, ReadBack, Tee};

use crate::OpsError;

/// The recipients a save encrypts to.
pub struct Encryption {
    pub recipients: Vec<Recipient>,
    /// Their `age1...` forms, for the manifest.
    pub names: Vec<String>,
    check_key: Identity,
}

/// Said instead of echoing the line: a secret key given by mistake must not reach a terminal.
const IDENTITY_NOT_RECIPIENT: &str = "this is an identity (secret key), not a recipient; give \
     the public key age1... (`age-keygen -y IDENTITY_FILE` prints it)";

fn is_secret_key(s: &str) -> bool {
    s.to_ascii_uppercase().contains("AGE-SECRET-KEY-")
}

/// One recipient; `from` names where it came from (never the text itself, which may be a key).
fn parse_one(s: &str, from: &str) -> Result<Recipient, OpsError> {
    if is_secret_key(s) {
        return Err(OpsError::Config(format!(
            "--encrypt-to: {from}: {IDENTITY_NOT_RECIPIENT}"
        )));
    }
    Recipient::from_str(s).map_err(|e| {
        OpsError::Config(format!(
            "--encrypt-to: {from}: not an age X25519 recipient (age1...): {e}"
        ))
    })
}

impl Encryption {
    /// `arg` is one `age1...` recipient, or a file of them (one a line, `#` comments).
    pub fn parse(arg: &str) -> Result<Encryption, OpsError> {
        let arg = arg.trim();
        let recipients = if arg.starts_with("age1") {
            vec![parse_one(arg, "argument")?]
        } else if is_secret_key(arg) {
            return Err(OpsError::Config(format!(
                "--encrypt-to: {IDENTITY_NOT_RECIPIENT}"
            )));
        } else {
            let text = inputs::read_to_string(std::path::Path::new(arg), inputs::Kind::AGE_KEYS)
                .map_err(|e| OpsError::Config(format!("--encrypt-to: {e}")))?;
            text.lines()
                .enumerate()
                .map(|(i, l)| (i, l.trim()))
                .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
                .map(|(i, l)| parse_one(l, &format!("{arg} line {}", i + 1)))
                .collect::<Result<Vec<_>, _>>()?
        };
        Encryption::to(recipients, arg)
    }

    /// Encrypts to `recipients` (`what` names them in the error when there are none).
    pub fn to(recipients: Vec<Recipient>, what: &str) -> Result<Encryption, OpsError> {
        if recipients.is_empty() {
            return Err(OpsError::Config(format!(
                "--encrypt-to {what}: no recipient found"
            )));
        }
        Ok(Encryption {
            names: recipients.iter().map(ToString::to_string).collect(),
            recipients,
            check_key: Identity::generate(),
        })
    }

    /// The recipients and the in-memory check key's public key: what a file this process
    /// verifies itself is encrypted to.
    pub fn with_check(&self) -> Vec<Recipient> {
        let mut all = self.recipients.clone();
        all.push(self.check_key.to_public());
        all
    }

    /// The in-memory key that can open what this save writes (for its own check only).
    pub fn check_identities(&self) -> Identities {
        Identities::from_keys(vec![Box::new(self.check_key.clone())])
    }

    fn wrap(&self, out: Tee) -> io::Result<age::stream::StreamWriter<Tee>> {
        let check = self.check_key.to_public();
        let all = self
            .recipients
            .iter()
            .chain(std::iter::once(&check))
            .map(|r| r as &dyn age::Recipient);
        let enc = age::Encryptor::with_recipients(all).map_err(io::Error::other)?;
        enc.wrap_output(out)
    }
}

/// Bytes gathered before a write(2); see [`Sink::new`].
const WRITE_BUFFER: usize = 32 << 10;

/// Where the stream lands: the file itself, or an age encryptor in front of it.
pub enum Sink {
    Plain(BufWriter<File>),
    Age(
        age::stream::StreamWriter<Tee>,
        Plain,
        JoinHandle<io::Result<ReadBack>>,
        std::os::fd::RawFd,
    ),
}

impl Sink {
    pub fn new(file: File, encryption: Option<&Encryption>) -> io::Result<Sink> {
        use std::os::fd::AsRawFd;
        // The descriptor stays valid while the sink owns the file (until `finish`).
        let fd = file.as_raw_fd();
        // Small on purpose: etcd's 32 KiB chunks (and age's 64 KiB ones) then go straight
        // to write(2) while still in the CPU cache. Gathering them into a 1 MiB buffer cost
        // a copy, and the kernel's copy out of a buffer too big for the cache took twice
        // the system time.
        let out = BufWriter::with_capacity(WRITE_BUFFER, file);
        Ok(match encryption {
            Some(e) => {
                let (tee, plain, thread) = readback::start(out, e.check_key.clone());
                Sink::Age(e.wrap(tee)?, plain, thread, fd)
            }
            None => Sink::Plain(out),
        })
    }

    pub fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(b),
            Sink::Age(w, plain, _, _) => {
                w.write_all(b)?;
                plain.push(b);
                Ok(())
            }
        }
    }

    /// Starts the kernel writing back what is written so far, without waiting
    /// for it: the disk works while the stream goes on, and the final fsync waits only for the
    /// tail instead of the whole file.
    pub fn start_writeback(&mut self) {
        use std::os::fd::AsRawFd;
        let fd = match self {
            Sink::Plain(w) => {
                if w.flush().is_err() {
                    return;
                }
                w.get_ref().as_raw_fd()
            }
            // What the encryptor still buffers is written later; the rest is in the page cache.
            Sink::Age(_, _, _, fd) => *fd,
        };
        // SAFETY: plain syscall on a file descriptor we own; a failure only means the final
        // fsync has more to do.
        unsafe {
            libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }

    /// Writes the last (authenticated) chunk when encrypting, flushes, and returns the file
    /// with, when encrypting, what the save's own key read back from the ciphertext.
    pub fn finish(self) -> io::Result<(File, Option<io::Result<ReadBack>>)> {
        match self {
            Sink::Plain(w) => Ok((w.into_inner().map_err(|e| e.into_error())?, None)),
            Sink::Age(w, plain, thread, _) => {
                drop(plain);
                let (file, read) = w.finish()?.finish(thread)?;
                Ok((file, Some(read)))
            }
        }
    }
}
