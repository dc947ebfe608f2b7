//! No file makes the reader panic: every real sample, cut at many points and with bytes
//! flipped, is either read or refused. (What a client uploads is never trusted.)

use std::path::Path;

use budgetsmart_bankfiles::{Options, read};

fn samples() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let mut files = Vec::new();
    for folder in ["ofx", "qif", "camt", "mt940", "csv"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("README") || name.starts_with("LICENSE") {
                continue;
            }
            if let Ok(bytes) = std::fs::read(entry.path()) {
                files.push(bytes);
            }
        }
    }
    assert!(files.len() >= 20, "the samples are there: {}", files.len());
    files
}

/// A small deterministic generator, so a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn cut_and_flipped_files_are_read_or_refused_never_a_panic() {
    let mut random = Lcg(20261205);
    let noise = [b'<', b'>', b'/', b':', b'\n', b';', b',', b'"', b'-', b'9', 0xC3, 0x00, b'^', b'!', b'?'];
    for file in samples() {
        for cut in 0..24 {
            let end = file.len() * cut / 24;
            let _ = read(&file[..end], &Options::default(), &mut |_| {});
        }
        for _ in 0..40 {
            let mut changed = file.clone();
            for _ in 0..4 {
                if changed.is_empty() {
                    break;
                }
                let at = (random.next() as usize) % changed.len();
                changed[at] = noise[(random.next() as usize) % noise.len()];
            }
            let _ = read(&changed, &Options::default(), &mut |_| {});
        }
    }
}
