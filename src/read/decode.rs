//! Inputs that are not plain UTF-8 bytes, decoded while they stream:
//! compressed files, told by their first bytes (gzip with `flate2`, zstd
//! with `ruzstd`, bzip2 with `bzip2`, xz with `liblzma`), and text in
//! another encoding (`encoding_rs`, through `encoding_rs_io`). The records,
//! the digest and the byte counts are those of the decoded text.

use std::io::{self, Read};

use encoding_rs::Encoding;

/// A compression format, recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `1f 8b`.
    Gzip,
    /// `28 b5 2f fd`.
    Zstd,
    /// `BZh`.
    Bzip2,
    /// `fd 37 7a 58 5a 00`.
    Xz,
}

impl Compression {
    /// The format whose magic bytes start `first`, if any.
    pub fn sniff(first: &[u8]) -> Option<Compression> {
        if first.starts_with(b"\x1f\x8b") {
            Some(Compression::Gzip)
        } else if first.starts_with(b"\x28\xb5\x2f\xfd") {
            Some(Compression::Zstd)
        } else if first.starts_with(b"BZh")
            && first.get(3).is_some_and(|b| (b'1'..=b'9').contains(b))
        {
            Some(Compression::Bzip2)
        } else if first.starts_with(b"\xfd7zXZ\x00") {
            Some(Compression::Xz)
        } else {
            None
        }
    }

    /// The format of the file whose first bytes are read at offset 0
    /// (without moving its cursor), if any.
    pub fn of_file(file: &std::fs::File) -> Option<Compression> {
        use std::os::unix::fs::FileExt as _;
        let mut first = [0u8; 8];
        let n = file.read_at(&mut first, 0).unwrap_or(0);
        Compression::sniff(&first[..n])
    }

    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }

    /// `reader`'s bytes decompressed (every member or frame, concatenated).
    pub fn decoder<'a>(
        self,
        reader: impl Read + Send + 'a,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            Compression::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new(reader).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
                })?,
            ),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(reader)),
        })
    }
}

/// The encoding a label names (`latin1`, `windows-1252`, `utf-16`,
/// `shift_jis`, ... as the WHATWG Encoding Standard spells them); `None`
/// for UTF-8, which needs no transcoding.
pub fn encoding_for(label: &str) -> Result<Option<&'static Encoding>, String> {
    match Encoding::for_label(label.trim().as_bytes()) {
        Some(encoding) if encoding == encoding_rs::UTF_8 => Ok(None),
        Some(encoding) => Ok(Some(encoding)),
        None => Err(format!(
            "unknown encoding {label:?}: give a label such as latin1, windows-1252, utf-16 or shift_jis"
        )),
    }
}

/// `reader`'s text in `encoding` as UTF-8; a byte-order mark, where there
/// is one, decides between UTF-8 and the two UTF-16s instead.
pub fn transcoder<'a>(
    encoding: &'static Encoding,
    reader: impl Read + Send + 'a,
) -> Box<dyn Read + Send + 'a> {
    Box::new(
        encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .bom_override(true)
            .build(reader),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn read_all(mut reader: Box<dyn Read + Send + '_>) -> String {
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn every_format_is_told_by_its_first_bytes_and_decoded() {
        let text = "id,name\n1,Ann\n";
        let gzip = {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(text.as_bytes()).unwrap();
            w.finish().unwrap()
        };
        let bzip2 = {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            w.write_all(text.as_bytes()).unwrap();
            w.finish().unwrap()
        };
        let xz = {
            let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
            w.write_all(text.as_bytes()).unwrap();
            w.finish().unwrap()
        };
        let zstd = ruzstd::encoding::compress_to_vec(
            text.as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        for (bytes, format) in [
            (gzip, Compression::Gzip),
            (bzip2, Compression::Bzip2),
            (xz, Compression::Xz),
            (zstd, Compression::Zstd),
        ] {
            assert_eq!(Compression::sniff(&bytes), Some(format));
            assert_eq!(read_all(format.decoder(&bytes[..]).unwrap()), text);
        }
        assert_eq!(Compression::sniff(text.as_bytes()), None);
    }

    #[test]
    fn text_in_another_encoding_becomes_utf8() {
        let latin1 = encoding_for("latin1").unwrap().unwrap();
        assert_eq!(read_all(transcoder(latin1, &b"caf\xe9\n"[..])), "café\n");
        let utf16 = encoding_for("utf-16").unwrap().unwrap();
        let be = b"\xfe\xff\x00c\x00a\x00f\x00\xe9";
        assert_eq!(read_all(transcoder(utf16, &be[..])), "café");
        assert_eq!(encoding_for("UTF-8").unwrap(), None);
        assert!(
            encoding_for("klingon")
                .unwrap_err()
                .contains("unknown encoding")
        );
    }
}
