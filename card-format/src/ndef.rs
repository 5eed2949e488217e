//! NDEF (NFC Forum Data Exchange Format) message for a card's NFC tag.
//!
//! Two records: a URI record (well-known type `U`, the card URL with `https://` abbreviated to
//! prefix code 0x04 per the URI RTD), so any phone opens the link, and an external-type record
//! (`kyukit.jp:c`, NFC Forum RTD 1.0) carrying the raw COSE bytes for the field app.
//! The parser reads any record layout (short or long records, ID fields), refuses chunked records,
//! and requires the two records to carry the same card.

use crate::CardError;
use crate::url::parse_card_url;

/// NFC Forum external type of the COSE record (domain:type, compared case-insensitively).
pub const EXTERNAL_TYPE: &str = "kyukit.jp:c";
/// Largest NDEF message accepted for parsing.
pub const MAX_NDEF_LEN: usize = 2048;

const TNF_WELL_KNOWN: u8 = 0x01;
const TNF_EXTERNAL: u8 = 0x04;
const MB: u8 = 0x80;
const ME: u8 = 0x40;
const CF: u8 = 0x20;
const SR: u8 = 0x10;
const IL: u8 = 0x08;

/// URI identifier codes 0x00–0x23 (NFC Forum URI RTD, table 3).
const URI_PREFIXES: [&str; 36] = [
    "",
    "http://www.",
    "https://www.",
    "http://",
    "https://",
    "tel:",
    "mailto:",
    "ftp://anonymous:anonymous@",
    "ftp://ftp.",
    "ftps://",
    "sftp://",
    "smb://",
    "nfs://",
    "ftp://",
    "dav://",
    "news:",
    "telnet://",
    "imap:",
    "rtsp://",
    "urn:",
    "pop:",
    "sip:",
    "sips:",
    "tftp:",
    "btspp://",
    "btl2cap://",
    "btgoep://",
    "tcpobex://",
    "irdaobex://",
    "file://",
    "urn:epc:id:",
    "urn:epc:tag:",
    "urn:epc:pat:",
    "urn:epc:raw:",
    "urn:epc:",
    "urn:nfc:",
];

fn push_record(
    out: &mut Vec<u8>,
    flags: u8,
    tnf: u8,
    rtype: &[u8],
    payload: &[u8],
) -> Result<(), CardError> {
    let type_len =
        u8::try_from(rtype.len()).map_err(|_| CardError::encoding("NDEF type too long"))?;
    match u8::try_from(payload.len()) {
        Ok(short) => out.extend_from_slice(&[flags | SR | tnf, type_len, short]),
        Err(_) => {
            let long = u32::try_from(payload.len())
                .map_err(|_| CardError::encoding("NDEF payload too long"))?;
            out.extend_from_slice(&[flags | tnf, type_len]);
            out.extend_from_slice(&long.to_be_bytes());
        }
    }
    out.extend_from_slice(rtype);
    out.extend_from_slice(payload);
    Ok(())
}

/// Builds the NDEF message for a card: URI record then the COSE external record.
pub fn build_ndef(url: &str, cose: &[u8]) -> Result<Vec<u8>, CardError> {
    let (code, rest) = match url.get(..8) {
        Some(p) if p.eq_ignore_ascii_case("https://") => (0x04u8, &url[8..]),
        _ => return Err(CardError::encoding("card URL must start with https://")),
    };
    let mut uri = Vec::with_capacity(1 + rest.len());
    uri.push(code);
    uri.extend_from_slice(rest.as_bytes());
    let mut out = Vec::with_capacity(uri.len() + cose.len() + 32);
    push_record(&mut out, MB, TNF_WELL_KNOWN, b"U", &uri)?;
    push_record(&mut out, ME, TNF_EXTERNAL, EXTERNAL_TYPE.as_bytes(), cose)?;
    Ok(out)
}

/// What a card's NDEF message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdefCard {
    /// The URI record, prefix expanded (e.g. `https://QQ.CITY.JOSO.LG.JP/C/…`).
    pub url: String,
    /// The external record's payload: the COSE bytes (not yet verified).
    pub cose: Vec<u8>,
}

struct Record<'a> {
    tnf: u8,
    rtype: &'a [u8],
    payload: &'a [u8],
}

fn take<'a>(b: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], CardError> {
    let end = at
        .checked_add(n)
        .filter(|e| *e <= b.len())
        .ok_or_else(|| CardError::encoding("NDEF record truncated"))?;
    let s = &b[*at..end];
    *at = end;
    Ok(s)
}

fn records(bytes: &[u8]) -> Result<Vec<Record<'_>>, CardError> {
    let mut at = 0;
    let mut out = Vec::new();
    loop {
        let header = take(bytes, &mut at, 1)?[0];
        if out.is_empty() != (header & MB != 0) {
            return Err(CardError::encoding("NDEF message-begin flag misplaced"));
        }
        if header & CF != 0 {
            return Err(CardError::encoding(
                "chunked NDEF records are not supported",
            ));
        }
        let type_len = usize::from(take(bytes, &mut at, 1)?[0]);
        let payload_len = if header & SR != 0 {
            usize::from(take(bytes, &mut at, 1)?[0])
        } else {
            let l = take(bytes, &mut at, 4)?;
            usize::try_from(u32::from_be_bytes([l[0], l[1], l[2], l[3]]))
                .map_err(|_| CardError::encoding("NDEF length"))?
        };
        let id_len = if header & IL != 0 {
            usize::from(take(bytes, &mut at, 1)?[0])
        } else {
            0
        };
        let rtype = take(bytes, &mut at, type_len)?;
        take(bytes, &mut at, id_len)?;
        let payload = take(bytes, &mut at, payload_len)?;
        out.push(Record {
            tnf: header & 0x07,
            rtype,
            payload,
        });
        if header & ME != 0 {
            break;
        }
    }
    if at != bytes.len() {
        return Err(CardError::encoding("bytes after the NDEF message end"));
    }
    Ok(out)
}

/// Parses a card's NDEF message. Other records are ignored; the URI and the COSE record must each
/// appear once and must carry the same card.
pub fn parse_ndef(bytes: &[u8]) -> Result<NdefCard, CardError> {
    if bytes.len() > MAX_NDEF_LEN {
        return Err(CardError::Oversize {
            len: bytes.len(),
            max: MAX_NDEF_LEN,
        });
    }
    let mut url = None;
    let mut cose = None;
    for r in records(bytes)? {
        if r.tnf == TNF_WELL_KNOWN && r.rtype == b"U" {
            let (&code, rest) = r
                .payload
                .split_first()
                .ok_or_else(|| CardError::encoding("empty URI record"))?;
            let prefix = URI_PREFIXES
                .get(usize::from(code))
                .ok_or_else(|| CardError::encoding("unknown URI prefix code"))?;
            let rest = std::str::from_utf8(rest)
                .map_err(|_| CardError::encoding("URI record is not UTF-8"))?;
            if url.replace(format!("{prefix}{rest}")).is_some() {
                return Err(CardError::encoding("more than one URI record"));
            }
        } else if r.tnf == TNF_EXTERNAL
            && r.rtype.eq_ignore_ascii_case(EXTERNAL_TYPE.as_bytes())
            && cose.replace(r.payload.to_vec()).is_some()
        {
            return Err(CardError::encoding("more than one card record"));
        }
    }
    let url = url.ok_or_else(|| CardError::encoding("no URI record"))?;
    let cose = cose.ok_or_else(|| CardError::encoding("no kyukit.jp:c record"))?;
    if parse_card_url(&url)?.cose != cose {
        return Err(CardError::encoding(
            "the URI and card records carry different cards",
        ));
    }
    Ok(NdefCard { url, cose })
}
