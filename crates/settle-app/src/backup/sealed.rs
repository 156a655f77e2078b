//! A backup's table files sealed under the master key (`settle backup --encrypt`): AES-256-GCM over chunks of at
//! most [`CHUNK`] bytes, streamed (memory stays one chunk whatever the file's size).
//!
//! A file is [`MAGIC`], an 8-byte random prefix, then chunks: a 4-byte big-endian length and the sealed chunk (its
//! tag included). Chunk `i`'s nonce is the prefix and `i` (4 bytes, big-endian); its additional data is the file's
//! name, `i`, and whether it is the last chunk, so a chunk moved to another file or place, a file cut short, or one
//! with chunks added after its last does not open.

use std::io::{Read, Write};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// What a sealed file starts with.
pub(super) const MAGIC: &[u8; 9] = b"SETTLEBK1";
/// The plaintext bytes of a full chunk.
pub(super) const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

fn key(raw: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, raw).expect("a 32-byte AES-256 key"))
}

fn nonce(prefix: &[u8; 8], i: u32) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(prefix);
    n[8..].copy_from_slice(&i.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(name: &str, i: u32, last: bool) -> Vec<u8> {
    let mut a = name.as_bytes().to_vec();
    a.push(0);
    a.extend_from_slice(&i.to_be_bytes());
    a.push(u8::from(last));
    a
}

/// Writes a sealed file through `inner`; [`Seal::finish`] seals the last chunk (a file not finished does not open).
pub(super) struct Seal<W: Write> {
    inner: W,
    key: LessSafeKey,
    name: String,
    prefix: [u8; 8],
    index: u32,
    buf: Vec<u8>,
}

impl<W: Write> Seal<W> {
    pub(super) fn new(mut inner: W, raw: &[u8; 32], name: &str) -> std::io::Result<Self> {
        let mut prefix = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut prefix);
        inner.write_all(MAGIC)?;
        inner.write_all(&prefix)?;
        Ok(Self { inner, key: key(raw), name: name.to_owned(), prefix, index: 0, buf: Vec::with_capacity(CHUNK + TAG) })
    }

    fn seal_chunk(&mut self, last: bool) -> std::io::Result<()> {
        let i = self.index;
        self.index = i.checked_add(1).ok_or_else(|| std::io::Error::other("a sealed file of more than 2^32 chunks"))?;
        self.key
            .seal_in_place_append_tag(nonce(&self.prefix, i), Aad::from(aad(&self.name, i, last)), &mut self.buf)
            .map_err(|_| std::io::Error::other("sealing a chunk failed"))?;
        self.inner.write_all(&(self.buf.len() as u32).to_be_bytes())?;
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Seals what is left as the last chunk and gives the writer back.
    pub(super) fn finish(mut self) -> std::io::Result<W> {
        self.seal_chunk(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Seal<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.seal_chunk(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a sealed file's plaintext; an error (not an end) where a chunk does not open or the file ends before its
/// last chunk.
pub(super) struct Open<R: Read> {
    inner: R,
    key: LessSafeKey,
    name: String,
    prefix: [u8; 8],
    index: u32,
    buf: Vec<u8>,
    at: usize,
    ended: bool,
}

fn damaged(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("sealed file: {what}"))
}

impl<R: Read> Open<R> {
    /// Opens `inner` with the first of `keys` its first chunk opens under (a rotated master key still opens).
    pub(super) fn new(mut inner: R, keys: &[[u8; 32]], name: &str) -> std::io::Result<Self> {
        let mut head = [0u8; 17];
        inner.read_exact(&mut head).map_err(|_| damaged("too short to be one"))?;
        if &head[..9] != MAGIC {
            return Err(damaged("not a sealed backup file (is the backup encrypted?)"));
        }
        let prefix: [u8; 8] = head[9..].try_into().expect("8 bytes");
        let mut chunk = Self::read_chunk(&mut inner)?.ok_or_else(|| damaged("it ends before its last chunk"))?;
        for raw in keys {
            let k = key(raw);
            let mut attempt = chunk.clone();
            for last in [false, true] {
                if let Ok(plain) = k.open_in_place(nonce(&prefix, 0), Aad::from(aad(name, 0, last)), &mut attempt) {
                    let len = plain.len();
                    attempt.truncate(len);
                    chunk = attempt;
                    return Ok(Self { inner, key: k, name: name.to_owned(), prefix, index: 1, buf: chunk, at: 0, ended: last });
                }
                attempt = chunk.clone();
            }
        }
        Err(damaged("it does not open under SETTLE_MASTER_KEY (another master key, or changed)"))
    }

    fn read_chunk(inner: &mut R) -> std::io::Result<Option<Vec<u8>>> {
        let mut len = [0u8; 4];
        match inner.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes(len) as usize;
        if !(TAG..=CHUNK + TAG).contains(&len) {
            return Err(damaged("a chunk of an impossible length"));
        }
        let mut chunk = vec![0u8; len];
        inner.read_exact(&mut chunk).map_err(|_| damaged("it ends inside a chunk"))?;
        Ok(Some(chunk))
    }

    /// The next chunk's plaintext into `buf`; false at the end (after the last chunk, nothing may follow).
    fn refill(&mut self) -> std::io::Result<bool> {
        if self.ended {
            return match Self::read_chunk(&mut self.inner)? {
                None => Ok(false),
                Some(_) => Err(damaged("chunks follow its last")),
            };
        }
        let chunk = Self::read_chunk(&mut self.inner)?.ok_or_else(|| damaged("it ends before its last chunk"))?;
        let i = self.index;
        for last in [false, true] {
            let mut attempt = chunk.clone();
            if let Ok(plain) = self.key.open_in_place(nonce(&self.prefix, i), Aad::from(aad(&self.name, i, last)), &mut attempt) {
                let len = plain.len();
                attempt.truncate(len);
                self.buf = attempt;
                self.at = 0;
                self.index = i.checked_add(1).ok_or_else(|| damaged("too many chunks"))?;
                self.ended = last;
                return Ok(true);
            }
        }
        Err(damaged("a chunk does not open (changed, moved or from another file)"))
    }
}

impl<R: Read> Read for Open<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buf.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(key: &[u8; 32], name: &str, plain: &[u8]) -> Vec<u8> {
        let mut s = Seal::new(Vec::new(), key, name).unwrap();
        s.write_all(plain).unwrap();
        s.finish().unwrap()
    }

    fn opened(keys: &[[u8; 32]], name: &str, file: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Open::new(file, keys, name)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn a_sealed_file_opens_whole_and_nothing_else_does() {
        let (k, other) = ([7u8; 32], [9u8; 32]);
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let file = sealed(&k, "t.ndjson", &plain);
            assert_eq!(opened(&[other, k], "t.ndjson", &file).unwrap(), plain, "size {size}, the second key opens it");
            assert!(opened(&[other], "t.ndjson", &file).is_err(), "size {size}: another key");
            assert!(opened(&[k], "u.ndjson", &file).is_err(), "size {size}: another file's name");
            // Cut short at every chunk boundary and inside one: never read as a whole file.
            for cut in [file.len() - 1, file.len() - TAG - 4, 17 + 4 + CHUNK.min(size) + TAG] {
                if cut < file.len() {
                    assert!(opened(&[k], "t.ndjson", &file[..cut]).is_err(), "size {size}: cut at {cut} of {}", file.len());
                }
            }
            let mut flipped = file.clone();
            let at = flipped.len() / 2;
            flipped[at] ^= 1;
            assert!(opened(&[k], "t.ndjson", &flipped).is_err(), "size {size}: a flipped bit");
            let mut extended = file.clone();
            extended.extend_from_slice(&file[17..]);
            assert!(opened(&[k], "t.ndjson", &extended).is_err(), "size {size}: chunks after the last");
        }
    }
}
