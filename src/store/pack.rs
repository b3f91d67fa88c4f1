//! Git object hashing and the pack stream. Objects are hashed here, in memory, so that the
//! store can tell which ones the repository already has before writing anything; the new ones
//! go to the object database as one plain pack (version 2, every object zlib-compressed whole,
//! no deltas) with its index (version 2), both written here: every object's id, offset and CRC
//! are known as it is spooled, so nothing is inflated and hashed again the way an indexer
//! (libgit2's pack writer, `git index-pack`) would. Searching for deltas is what makes libgit2's
//! own packbuilder slow on a first snapshot, and loose objects cost one file per object. The
//! entries are spooled to an unnamed temporary file as they are made ([`Spool`]), so that a
//! first snapshot never holds all its objects' bytes in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, FlushCompress, Status};
use git2::{Odb, Oid};
use sha1::{Digest, Sha1};

/// The object types the store writes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjKind {
    Tree,
    Blob,
}

impl ObjKind {
    fn name(self) -> &'static str {
        match self {
            ObjKind::Tree => "tree",
            ObjKind::Blob => "blob",
        }
    }

    /// Type number in a pack entry header.
    fn pack_type(self) -> u8 {
        match self {
            ObjKind::Tree => 2,
            ObjKind::Blob => 3,
        }
    }
}

/// Git's blob id of `bytes`, computed in memory (what `git hash-object` prints).
pub fn blob_id(bytes: &[u8]) -> Oid {
    object_id(ObjKind::Blob, bytes)
}

pub(crate) fn object_id(kind: ObjKind, data: &[u8]) -> Oid {
    let mut hasher = Sha1::new();
    hasher.update(kind.name().as_bytes());
    hasher.update(b" ");
    hasher.update(data.len().to_string().as_bytes());
    hasher.update([0u8]);
    hasher.update(data);
    Oid::from_bytes(&hasher.finalize()).expect("a SHA-1 digest is 20 bytes, an object id's size")
}

/// One object as a pack entry: the type-and-size header, then the zlib stream.
pub(crate) fn pack_entry(kind: ObjKind, data: &[u8], deflater: &mut Deflater) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 80);
    entry_header(kind, data.len(), &mut out);
    deflater.deflate_into(data, &mut out);
    out
}

/// Pack entries waiting to be written, in an unnamed temporary file in the git dir (gone with
/// the process, however it ends), created with the first entry. Once the pack is written
/// ([`write_pack`]) the file stays open for reading the objects back ([`Spool::object`]): the
/// checkout of a new snapshot takes its files from here, not from the object database, whose
/// pack libgit2 maps into memory as it reads (a first snapshot's whole pack, 280 MB at 100k
/// users, counted in the process's resident memory).
pub(crate) struct Spool {
    dir: PathBuf,
    file: Option<BufWriter<File>>,
    /// The spooled entries, after the pack was written.
    written: Option<File>,
    count: u32,
    /// Bytes spooled so far.
    end: u64,
    /// Where each entry is in the file: offset and length, and the entry's CRC-32 (for the
    /// index).
    at: HashMap<Oid, (u64, usize, u32)>,
}

impl Spool {
    pub fn new(dir: &Path) -> Spool {
        Spool {
            dir: dir.to_path_buf(),
            file: None,
            written: None,
            count: 0,
            end: 0,
            at: HashMap::new(),
        }
    }

    /// Adds the entry of object `oid`, made by [`pack_entry`]; an object already spooled is
    /// not spooled again (a pack lists each object once).
    pub fn push(&mut self, oid: Oid, entry: &[u8]) -> std::io::Result<()> {
        if self.at.contains_key(&oid) {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(BufWriter::with_capacity(
                1 << 20,
                tempfile::tempfile_in(&self.dir)?,
            )),
        };
        file.write_all(entry)?;
        self.count = self
            .count
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("more than 2^32 objects in one pack"))?;
        let mut crc = flate2::Crc::new();
        crc.update(entry);
        self.at.insert(oid, (self.end, entry.len(), crc.sum()));
        self.end += entry.len() as u64;
        Ok(())
    }

    /// Objects spooled.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// The content of object `oid` when it is in the written pack; `None` when it is not (it
    /// was in the repository already) or the pack is not written yet.
    pub fn object(&self, oid: Oid) -> Option<std::io::Result<Vec<u8>>> {
        let file = self.written.as_ref()?;
        let &(offset, len, _) = self.at.get(&oid)?;
        Some(read_entry(file, offset, len))
    }
}

/// Reads one spooled entry back and inflates its data.
fn read_entry(file: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut entry = vec![0u8; len];
    file.read_exact_at(&mut entry, offset)?;
    // The type-and-size header: bytes with the high bit set continue it.
    let header = entry
        .iter()
        .position(|b| b & 0x80 == 0)
        .ok_or_else(|| std::io::Error::other("a spooled entry without its header"))?
        + 1;
    let mut data = Vec::new();
    flate2::read::ZlibDecoder::new(&entry[header..]).read_to_end(&mut data)?;
    Ok(data)
}

/// A reusable zlib compressor. Setting up a fresh zlib stream per object costs more than
/// compressing a 1 KB file, so each thread keeps one and resets it between objects.
pub(crate) struct Deflater(Compress);

impl Deflater {
    pub fn new() -> Deflater {
        Deflater::with_level(Deflater::FAST)
    }

    /// A fast level: compression is most of the CPU time of a commit, and small files
    /// compressed one by one gain little from higher levels.
    pub const FAST: u32 = 3;
    /// The fastest level that still compresses.
    pub const FASTEST: u32 = 1;
    /// Stored, not compressed: twice the bytes, but a first snapshot of 130k objects is written
    /// in 3.7 s instead of 6 s; `git gc` compresses (and deltifies) it later.
    pub const STORED: u32 = 0;

    pub fn with_level(level: u32) -> Deflater {
        Deflater(Compress::new(Compression::new(level), true))
    }

    /// Appends the zlib stream of `data` to `out`.
    pub fn deflate_into(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.0.reset();
        out.reserve(data.len() + data.len() / 8 + 64);
        loop {
            let consumed = usize::try_from(self.0.total_in()).expect("input fits in memory");
            let status = self
                .0
                .compress_vec(&data[consumed..], out, FlushCompress::Finish)
                .expect("compressing into a Vec cannot fail");
            if status == Status::StreamEnd {
                return;
            }
            out.reserve(out.capacity().max(64));
        }
    }
}

/// The type-and-size header of a pack entry: type in bits 4–6 of the first byte, the size in
/// little-endian groups of 4 then 7 bits, high bit set while more bytes follow.
fn entry_header(kind: ObjKind, size: usize, out: &mut Vec<u8>) {
    let mut size = size as u64;
    let mut byte = (kind.pack_type() << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
}

/// Writes the spooled entries as one pack with its index into `pack_dir` (the repository's
/// `objects/pack`), and makes the object database see it. Returns the pack's size in bytes.
/// Both files are written under temporary names and renamed into place, the index last (readers
/// find packs by their index), so an error leaves at most an unreferenced temporary file.
pub(crate) fn write_pack(
    odb: &Odb<'_>,
    pack_dir: &Path,
    spool: &mut Spool,
) -> Result<u64, git2::Error> {
    let io = |what: &'static str| {
        move |e: std::io::Error| git2::Error::from_str(&format!("{what}: {e}"))
    };
    let Some(file) = spool.file.take() else {
        return Ok(0);
    };
    let mut file = file
        .into_inner()
        .map_err(|e| io("reading the spooled pack")(e.into_error()))?;
    file.rewind().map_err(io("reading the spooled pack"))?;
    std::fs::create_dir_all(pack_dir).map_err(io("creating objects/pack"))?;
    let mut pack = tempfile::Builder::new()
        .prefix("tmp_pack_")
        .tempfile_in(pack_dir)
        .map_err(io("creating the pack"))?;
    let mut out = BufWriter::with_capacity(1 << 20, pack.as_file_mut());
    let mut sha = Sha1::new();
    let mut header = Vec::with_capacity(12);
    header.extend_from_slice(b"PACK");
    header.extend_from_slice(&2u32.to_be_bytes());
    header.extend_from_slice(&spool.count.to_be_bytes());
    sha.update(&header);
    out.write_all(&header).map_err(io("writing the pack"))?;
    let mut total = header.len() as u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(io("reading the spooled pack"))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io("writing the pack"))?;
        total += n as u64;
    }
    let checksum: [u8; 20] = sha.finalize().into();
    out.write_all(&checksum).map_err(io("writing the pack"))?;
    out.flush().map_err(io("writing the pack"))?;
    drop(out);
    total += checksum.len() as u64;
    let mut entries: Vec<(Oid, u64, u32)> = spool
        .at
        .iter()
        .map(|(oid, &(offset, _, crc))| (*oid, offset + header.len() as u64, crc))
        .collect();
    let index = index_bytes(&mut entries, &checksum);
    let mut idx = tempfile::Builder::new()
        .prefix("tmp_idx_")
        .tempfile_in(pack_dir)
        .map_err(io("creating the pack index"))?;
    idx.write_all(&index)
        .map_err(io("writing the pack index"))?;
    let name: String = checksum.iter().map(|b| format!("{b:02x}")).collect();
    let persist = |f: tempfile::NamedTempFile, ext: &str| {
        // Git's own packs and indexes are read-only.
        let _ = f
            .as_file()
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444));
        f.persist(pack_dir.join(format!("pack-{name}.{ext}")))
            .map_err(|e| io("naming the pack")(e.error))
    };
    persist(pack, "pack")?;
    persist(idx, "idx")?;
    odb.refresh()?;
    spool.written = Some(file);
    Ok(total)
}

/// A version 2 pack index of `entries` (id, offset in the pack, CRC-32 of the entry), which it
/// sorts by id: the fan-out table, the ids, the CRCs, the offsets (those of 2 GiB and more in a
/// table of 64-bit ones), the pack's checksum and the index's own (gitformat-pack(5)).
fn index_bytes(entries: &mut [(Oid, u64, u32)], pack_checksum: &[u8; 20]) -> Vec<u8> {
    entries.sort_by_key(|e| e.0);
    let mut out = Vec::with_capacity(8 + 1024 + entries.len() * 28 + 40);
    out.extend_from_slice(b"\xfftOc");
    out.extend_from_slice(&2u32.to_be_bytes());
    let mut fanout = [0u32; 256];
    for (oid, _, _) in entries.iter() {
        fanout[usize::from(oid.as_bytes()[0])] += 1;
    }
    let mut running = 0u32;
    for count in fanout {
        running += count;
        out.extend_from_slice(&running.to_be_bytes());
    }
    for (oid, _, _) in entries.iter() {
        out.extend_from_slice(oid.as_bytes());
    }
    for (_, _, crc) in entries.iter() {
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for &(_, offset, _) in entries.iter() {
        let small = u32::try_from(offset).ok().filter(|o| o & 0x8000_0000 == 0);
        let word = small.unwrap_or_else(|| {
            large.push(offset);
            0x8000_0000 | u32::try_from(large.len() - 1).expect("fewer than 2^31 large offsets")
        });
        out.extend_from_slice(&word.to_be_bytes());
    }
    for offset in large {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack_checksum);
    let own: [u8; 20] = Sha1::digest(&out).into();
    out.extend_from_slice(&own);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_matches_libgit2() {
        for data in [&b""[..], b"hello\n", &[0u8; 5000][..]] {
            assert_eq!(
                blob_id(data),
                Oid::hash_object(git2::ObjectType::Blob, data).unwrap()
            );
        }
    }

    #[test]
    fn deflater_output_inflates_back() {
        let mut d = Deflater::new();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for data in [&b""[..], b"hello hello hello\n", &big[..], b"again"] {
            let mut packed = b"kept".to_vec();
            d.deflate_into(data, &mut packed);
            assert_eq!(&packed[..4], b"kept");
            let packed = &packed[4..];
            let mut back = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(packed), &mut back)
                .unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn spooled_objects_are_read_back_after_the_pack_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        let mut spool = Spool::new(repo.path());
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let blobs: Vec<&[u8]> = vec![b"", b"id: 1\n", &big];
        let mut deflater = Deflater::with_level(Deflater::STORED);
        for data in &blobs {
            let entry = pack_entry(ObjKind::Blob, data, &mut deflater);
            spool.push(blob_id(data), &entry).unwrap();
        }
        // Not before the pack is written: the spool is still being filled.
        assert!(spool.object(blob_id(b"id: 1\n")).is_none());
        // Spooled twice, listed once.
        let again = pack_entry(ObjKind::Blob, b"id: 1\n", &mut deflater);
        spool.push(blob_id(b"id: 1\n"), &again).unwrap();
        let pack_dir = repo.path().join("objects").join("pack");
        write_pack(&odb, &pack_dir, &mut spool).unwrap();
        for data in &blobs {
            let back = spool.object(blob_id(data)).expect("spooled").unwrap();
            assert_eq!(&back[..], *data);
            assert_eq!(odb.read(blob_id(data)).unwrap().data(), *data);
        }
        assert!(spool.object(blob_id(b"never spooled")).is_none());
        // Git itself takes the pack and its index: every object, its CRC and offset checked.
        let idx = std::fs::read_dir(&pack_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "idx"))
            .expect("an index");
        let out = std::process::Command::new("git")
            .arg("verify-pack")
            .arg("-v")
            .arg(&idx)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("non delta: 3 objects"), "{text}");
        let leftovers: Vec<_> = std::fs::read_dir(&pack_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tmp_"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn offsets_of_2_gib_and_more_go_to_the_large_offset_table() {
        let oid = |b: u8| Oid::from_bytes(&[b; 20]).unwrap();
        let mut entries = vec![(oid(2), 5u64 << 31, 7u32), (oid(1), 12, 9)];
        let index = index_bytes(&mut entries, &[0xab; 20]);
        let n = 2;
        let offsets = 8 + 1024 + n * 20 + n * 4;
        let word = |at: usize| u32::from_be_bytes(index[at..at + 4].try_into().unwrap());
        // Sorted by id: the small offset first, then the index of the large one, flagged.
        assert_eq!(word(offsets), 12);
        assert_eq!(word(offsets + 4), 0x8000_0000);
        let large = u64::from_be_bytes(index[offsets + 8..offsets + 16].try_into().unwrap());
        assert_eq!(large, 5u64 << 31);
        assert_eq!(word(8 + 4 * 0xff), 2, "the fan-out counts every id");
        assert_eq!(&index[offsets + 16..offsets + 36], &[0xab; 20]);
        assert_eq!(index.len(), offsets + 16 + 40);
    }

    #[test]
    fn entry_header_encodes_sizes() {
        let mut out = Vec::new();
        entry_header(ObjKind::Blob, 15, &mut out);
        assert_eq!(out, [0x3f]);
        out.clear();
        entry_header(ObjKind::Tree, 16, &mut out);
        assert_eq!(out, [0xa0, 0x01]);
        out.clear();
        entry_header(ObjKind::Blob, 1000, &mut out);
        // 1000 = 0b11_1110_1000: low nibble 8, then 62.
        assert_eq!(out, [0xb8, 62]);
    }
}
