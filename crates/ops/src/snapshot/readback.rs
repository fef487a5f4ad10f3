//! The encrypted save's read-back, done as the ciphertext is written: every byte handed
//! to the file is also handed to a thread that decrypts it with the save's own throwaway
//! key and compares it, byte for byte, with the plaintext the stream check proved (a copy
//! of each chunk comes along). So the file is shown to hold exactly the proven snapshot
//! without decrypting 1 GiB again after the last byte, and without a second SHA-256. (The
//! plain save likewise proves the very bytes it hands to write(2).)

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use age::x25519::Identity;

/// Ciphertext writes in flight to the decrypting thread (age writes 64 KiB chunks).
const IN_FLIGHT: usize = 64;

/// What the decrypting thread saw: plaintext bytes that matched what was encrypted (all of
/// them, or the thread reports an error), and ciphertext bytes.
pub type ReadBack = (u64, u64);

/// The file, with every write copied to the decrypting thread.
pub struct Tee {
    out: BufWriter<File>,
    copy: Option<SyncSender<Vec<u8>>>,
}

impl Write for Tee {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.out.write(b)?;
        // Only what the file took; should the thread be gone, the join reports it.
        if let Some(tx) = &self.copy
            && tx.send(b[..n].to_vec()).is_err()
        {
            self.copy = None;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Tee {
    /// The file, flushed, and the thread's result (an error if it could not decrypt).
    pub fn finish(
        mut self,
        thread: JoinHandle<io::Result<ReadBack>>,
    ) -> io::Result<(File, io::Result<ReadBack>)> {
        self.out.flush()?;
        self.copy = None;
        let read = thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the read-back thread failed")));
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok((file, read))
    }
}

/// Reads what the channel delivers, in order, until the sender is gone.
struct Chan {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    at: usize,
    total: u64,
}

impl Read for Chan {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.cur.len() {
            match self.rx.recv() {
                Ok(v) => {
                    self.total += v.len() as u64;
                    (self.cur, self.at) = (v, 0);
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.at);
        buf[..n].copy_from_slice(&self.cur[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The plaintext as it went into the encryptor: a copy of each chunk for the comparison.
pub struct Plain(Option<SyncSender<Vec<u8>>>);

impl Plain {
    pub fn push(&mut self, b: &[u8]) {
        if let Some(tx) = &self.0
            && tx.send(b.to_vec()).is_err()
        {
            self.0 = None;
        }
    }
}

/// A writer over `out` whose bytes are decrypted with `key` on a thread of their own and
/// compared with what goes into [`Plain`]. Plaintext runs ahead of the ciphertext by at
/// most one age chunk (64 KiB), far less than the channels hold, so neither side waits
/// on the other for long; a thread that gives up drops its receivers, so sends fail
/// instead of blocking.
pub fn start(
    out: BufWriter<File>,
    key: Identity,
) -> (Tee, Plain, JoinHandle<io::Result<ReadBack>>) {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let (ptx, prx) = sync_channel(IN_FLIGHT * 2);
    let thread = std::thread::spawn(move || {
        let mut chan = Chan {
            rx,
            cur: Vec::new(),
            at: 0,
            total: 0,
        };
        let mut plain = Chan {
            rx: prx,
            cur: Vec::new(),
            at: 0,
            total: 0,
        };
        let matched = compare(&mut chan, &mut plain, &key)?;
        Ok((matched, chan.total))
    });
    (
        Tee {
            out,
            copy: Some(tx),
        },
        Plain(Some(ptx)),
        thread,
    )
}

fn compare(chan: &mut Chan, plain: &mut Chan, key: &Identity) -> io::Result<u64> {
    let dec = age::Decryptor::new(io::BufReader::with_capacity(1 << 16, chan))
        .map_err(io::Error::other)?;
    let mut reader = dec
        .decrypt(std::iter::once(key as &dyn age::Identity))
        .map_err(io::Error::other)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut want = vec![0u8; 1 << 16];
    let mut matched = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        plain.read_exact(&mut want[..n])?;
        if buf[..n] != want[..n] {
            return Err(io::Error::other(format!(
                "the ciphertext decrypts to other bytes near plaintext offset {matched}"
            )));
        }
        matched += n as u64;
    }
    // Plaintext that never made it into the ciphertext.
    if plain.read(&mut want[..1])? != 0 {
        return Err(io::Error::other("the ciphertext ends early"));
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encrypt `written` through the read-back while `pushed` is announced as its plaintext.
    fn run(written: &[u8], pushed: &[u8]) -> io::Result<ReadBack> {
        let dir = tempfile::tempdir()?;
        let file = File::create(dir.path().join("x.age"))?;
        let key = Identity::generate();
        let (tee, mut plain, thread) = start(BufWriter::new(file), key.clone());
        let public = key.to_public();
        let enc = age::Encryptor::with_recipients(std::iter::once(&public as &dyn age::Recipient))
            .map_err(io::Error::other)?;
        let mut w = enc.wrap_output(tee)?;
        for c in written.chunks(32 << 10) {
            w.write_all(c)?;
        }
        for c in pushed.chunks(32 << 10) {
            plain.push(c);
        }
        drop(plain);
        let (_file, read) = w.finish()?.finish(thread)?;
        read
    }

    #[test]
    fn the_same_bytes_are_counted_and_any_difference_is_an_error() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (plain, cipher) = run(&data, &data).expect("same bytes");
        assert_eq!(plain, 200_000);
        assert!(cipher > plain);
        let mut flipped = data.clone();
        flipped[150_000] ^= 1;
        assert!(run(&data, &flipped).is_err(), "a flipped byte");
        assert!(run(&data, &data[..100_000]).is_err(), "less plaintext");
        assert!(run(&data[..100_000], &data).is_err(), "more plaintext");
    }
}
