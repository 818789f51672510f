//! How much a source holds, before it is read: for progress (alerts done
//! of the total, the time left).
//!
//! Bytes are always known (file sizes). The number of alerts is known
//! exactly when no file is gzipped: `.avro` files count one each, and a
//! plain tar's members are counted by walking its headers (seeking over the
//! data). A gzipped archive has no index, and counting its members would
//! cost as much as the replay's own reading, so there the total is left
//! to be estimated from the bytes read.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The size of a replay's input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputSize {
    /// Bytes of every file that will be read (compressed, for .tar.gz).
    pub bytes: u64,
    /// The alerts in them, when that is known without reading them all.
    pub alerts: Option<u64>,
}

/// Measures `paths` with the selection rules of
/// [`for_each_alert`](super::for_each_alert). Unreadable paths count
/// nothing here; reading reports them.
pub fn measure<P: AsRef<Path>>(paths: &[P]) -> InputSize {
    let mut size = InputSize {
        bytes: 0,
        alerts: Some(0),
    };
    for p in paths {
        add(p.as_ref(), true, &mut size);
    }
    size
}

fn add(path: &Path, explicit: bool, size: &mut InputSize) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(rd) = std::fs::read_dir(path) else {
            return;
        };
        for e in rd.flatten() {
            add(&e.path(), false, size);
        }
        return;
    }
    if !super::selected(path, explicit) {
        return;
    }
    size.bytes += meta.len();
    let n = File::open(path).ok().and_then(count);
    size.alerts = size.alerts.zip(n).map(|(a, b)| a + b);
}

/// Alerts in one file: 1 for a message, the `.avro` members of a plain
/// tar, `None` for a gzipped file.
fn count(mut file: File) -> Option<u64> {
    let mut head = [0u8; super::SNIFF];
    let n = read_up_to(&mut file, &mut head)?;
    match super::sniff(&head[..n]) {
        super::Kind::Gzip => return None,
        super::Kind::Message => return Some(1),
        super::Kind::Tar => {}
    }
    use std::io::Seek;
    file.rewind().ok()?;
    let mut archive = tar::Archive::new(file);
    let mut alerts = 0;
    for e in archive.entries_with_seek().ok()? {
        let e = e.ok()?;
        let member = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if e.header().entry_type().is_file() && super::alert_member(&member) {
            alerts += 1;
        }
    }
    Some(alerts)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tars_and_files_are_counted_gzipped_ones_are_not() {
        let d = tempfile::tempdir().unwrap();
        let tar_path = d.path().join("a.tar");
        let mut t = tar::Builder::new(File::create(&tar_path).unwrap());
        for name in ["x.avro", "y.avro", "._z.avro", "notes.txt"] {
            let mut h = tar::Header::new_gnu();
            h.set_size(3);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, name, &b"abc"[..]).unwrap();
        }
        t.finish().unwrap();
        drop(t);
        std::fs::write(d.path().join("one.avro"), b"12345").unwrap();
        std::fs::write(d.path().join("skipped.txt"), b"12345").unwrap();
        let s = measure(&[d.path()]);
        assert_eq!(s.alerts, Some(3));
        let tar_len = std::fs::metadata(&tar_path).unwrap().len();
        assert_eq!(s.bytes, tar_len + 5);

        let gz = d.path().join("b.tar.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0]).unwrap();
        assert_eq!(measure(&[&gz]).alerts, None);
        assert_eq!(measure(&[&gz]).bytes, 6);
    }
}
