//! A backup's table files sealed under the master key (`settle backup --encrypt`): AES-256-GCM over chunks of at
//! most [`CHUNK`] bytes, streamed (memory stays one chunk whatever the file's size).
//!
//! A file is [`MAGIC`], a 16-byte random salt, then chunks: a 4-byte big-endian length and the sealed chunk (its tag
//! included). Each file has a key of its own, HMAC-SHA256 of its salt under the backup key, so nonces never repeat
//! under one key however many files a key seals; chunk `i`'s nonce is `i`. A chunk's additional data is its
//! `context` (the backup's id and the file's name), `i`, and whether it is the last chunk, so a chunk moved to another
//! place, file or backup, a file cut short, or one with chunks added after its last does not open.

use std::io::{Read, Write};

use hmac::{Hmac, Mac};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// What a sealed file starts with.
pub(super) const MAGIC: &[u8; 9] = b"SETTLEBK2";
const SALT: usize = 16;
/// The bytes before the first chunk.
pub(super) const HEADER: usize = MAGIC.len() + SALT;
/// The plaintext bytes of a full chunk.
pub(super) const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// The file's own key: HMAC-SHA256 of its salt under the backup key.
fn key(raw: &[u8; 32], salt: &[u8; SALT]) -> LessSafeKey {
    let mut h = <Hmac<sha2::Sha256> as Mac>::new_from_slice(raw).expect("HMAC takes a key of any length");
    h.update(b"settle backup file key");
    h.update(salt);
    let k = h.finalize().into_bytes();
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k).expect("a 32-byte AES-256 key"))
}

fn nonce(i: u32) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[NONCE_LEN - 4..].copy_from_slice(&i.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(context: &str, i: u32, last: bool) -> Vec<u8> {
    let mut a = context.as_bytes().to_vec();
    a.push(0);
    a.extend_from_slice(&i.to_be_bytes());
    a.push(u8::from(last));
    a
}

/// Chunk `i` of `context` opened under `key`, with whether it is the file's last; None when it opens as neither.
fn open_chunk(key: &LessSafeKey, context: &str, i: u32, chunk: &[u8]) -> Option<(Vec<u8>, bool)> {
    [false, true].into_iter().find_map(|last| {
        let mut buf = chunk.to_vec();
        let len = key.open_in_place(nonce(i), Aad::from(aad(context, i, last)), &mut buf).ok()?.len();
        buf.truncate(len);
        Some((buf, last))
    })
}

/// Writes a sealed file through `inner`; [`Seal::finish`] seals the last chunk (a file not finished does not open).
pub(super) struct Seal<W: Write> {
    inner: W,
    key: LessSafeKey,
    context: String,
    index: u32,
    buf: Vec<u8>,
}

impl<W: Write> Seal<W> {
    pub(super) fn new(mut inner: W, raw: &[u8; 32], context: &str) -> std::io::Result<Self> {
        let mut salt = [0u8; SALT];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
        inner.write_all(MAGIC)?;
        inner.write_all(&salt)?;
        Ok(Self { inner, key: key(raw, &salt), context: context.to_owned(), index: 0, buf: Vec::with_capacity(CHUNK + TAG) })
    }

    fn seal_chunk(&mut self, last: bool) -> std::io::Result<()> {
        let i = self.index;
        self.index = i.checked_add(1).ok_or_else(|| std::io::Error::other("a sealed file of more than 2^32 chunks"))?;
        self.key
            .seal_in_place_append_tag(nonce(i), Aad::from(aad(&self.context, i, last)), &mut self.buf)
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
    context: String,
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
    pub(super) fn new(mut inner: R, keys: &[[u8; 32]], context: &str) -> std::io::Result<Self> {
        let mut head = [0u8; HEADER];
        inner.read_exact(&mut head).map_err(|_| damaged("too short to be one"))?;
        if &head[..MAGIC.len()] != MAGIC {
            return Err(damaged("not a sealed backup file (is the backup encrypted?)"));
        }
        let salt: [u8; SALT] = head[MAGIC.len()..].try_into().expect("the salt's bytes");
        let chunk = Self::read_chunk(&mut inner)?.ok_or_else(|| damaged("it ends before its last chunk"))?;
        for raw in keys {
            let k = key(raw, &salt);
            if let Some((buf, last)) = open_chunk(&k, context, 0, &chunk) {
                return Ok(Self { inner, key: k, context: context.to_owned(), index: 1, buf, at: 0, ended: last });
            }
        }
        Err(damaged("it does not open under SETTLE_MASTER_KEY (another master key, another backup's file, or changed)"))
    }

    /// The next chunk as stored; None at a clean end (no byte left), an error inside a chunk or its length.
    fn read_chunk(inner: &mut R) -> std::io::Result<Option<Vec<u8>>> {
        let mut len = [0u8; 4];
        let mut got = 0;
        while got < len.len() {
            match inner.read(&mut len[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(damaged("it ends inside a chunk's length")),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
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
        let (buf, last) =
            open_chunk(&self.key, &self.context, i, &chunk).ok_or_else(|| damaged("a chunk does not open (changed, moved or from another file)"))?;
        self.buf = buf;
        self.at = 0;
        self.index = i.checked_add(1).ok_or_else(|| damaged("too many chunks"))?;
        self.ended = last;
        Ok(true)
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
            for cut in [file.len() - 1, file.len() - TAG - 4, HEADER + 4 + CHUNK.min(size) + TAG] {
                if cut < file.len() {
                    assert!(opened(&[k], "t.ndjson", &file[..cut]).is_err(), "size {size}: cut at {cut} of {}", file.len());
                }
            }
            let mut flipped = file.clone();
            let at = flipped.len() / 2;
            flipped[at] ^= 1;
            assert!(opened(&[k], "t.ndjson", &flipped).is_err(), "size {size}: a flipped bit");
            let mut extended = file.clone();
            extended.extend_from_slice(&file[HEADER..]);
            assert!(opened(&[k], "t.ndjson", &extended).is_err(), "size {size}: chunks after the last");
            for trailing in 1..4 {
                let mut longer = file.clone();
                longer.extend_from_slice(&b"abc"[..trailing]);
                assert!(opened(&[k], "t.ndjson", &longer).is_err(), "size {size}: {trailing} bytes after the last chunk");
            }
        }
    }
}
