//! Just enough DER reading for AutoMTLS: the SubjectPublicKeyInfo of a certificate, the
//! curve of an EC public key, and the (r, s) of an ECDSA signature. Nothing is trusted
//! from these beyond what pinning already established.

/// A DER structure that is not what we expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER: {0}")]
pub struct DerError(&'static str);

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const VERSION_TAG: u8 = 0xa0;

/// OID 1.2.840.10045.2.1 (id-ecPublicKey), content bytes.
pub const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// OID 1.3.132.0.35 (secp521r1), content bytes.
pub const OID_SECP521R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];

/// Reads one TLV from the front of `input`: (tag, content, whole TLV).
fn read<'a>(input: &mut &'a [u8]) -> Result<(u8, &'a [u8], &'a [u8]), DerError> {
    let all = *input;
    let (&tag, rest) = all.split_first().ok_or(DerError("truncated tag"))?;
    let (&first, mut rest) = rest.split_first().ok_or(DerError("truncated length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(DerError("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(DerError("truncated content"));
    }
    let header = all.len() - rest.len();
    *input = &rest[len..];
    Ok((tag, &rest[..len], &all[..header + len]))
}

fn expect<'a>(input: &mut &'a [u8], want: u8) -> Result<&'a [u8], DerError> {
    match read(input)? {
        (tag, content, _) if tag == want => Ok(content),
        _ => Err(DerError("unexpected tag")),
    }
}

/// An EC public key from a certificate: its curve OID and its SEC1 point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcPublicKey<'a> {
    pub curve: &'a [u8],
    pub point: &'a [u8],
}

/// The EC public key of an X.509 certificate, or `None` if the key is not EC.
pub fn cert_ec_public_key(cert: &[u8]) -> Result<Option<EcPublicKey<'_>>, DerError> {
    let mut input = cert;
    let mut certificate = expect(&mut input, SEQUENCE)?;
    let mut tbs = expect(&mut certificate, SEQUENCE)?;
    if tbs.first() == Some(&VERSION_TAG) {
        read(&mut tbs)?;
    }
    expect(&mut tbs, INTEGER)?; // serial
    expect(&mut tbs, SEQUENCE)?; // signature algorithm
    expect(&mut tbs, SEQUENCE)?; // issuer
    expect(&mut tbs, SEQUENCE)?; // validity
    expect(&mut tbs, SEQUENCE)?; // subject
    let mut spki = expect(&mut tbs, SEQUENCE)?;
    let mut alg = expect(&mut spki, SEQUENCE)?;
    let key_type = expect(&mut alg, OID)?;
    if key_type != OID_EC_PUBLIC_KEY {
        return Ok(None);
    }
    let curve = expect(&mut alg, OID)?;
    let bits = expect(&mut spki, BIT_STRING)?;
    match bits.split_first() {
        Some((0, point)) => Ok(Some(EcPublicKey { curve, point })),
        _ => Err(DerError("bad public key bit string")),
    }
}

/// The DER ECDSA signature `SEQUENCE { r INTEGER, s INTEGER }` as fixed-width `r || s`,
/// each left-padded to `width` bytes.
pub fn ecdsa_signature_fixed(sig: &[u8], width: usize) -> Result<Vec<u8>, DerError> {
    let mut input = sig;
    let mut seq = expect(&mut input, SEQUENCE)?;
    let mut out = Vec::with_capacity(width * 2);
    for _ in 0..2 {
        let mut int = expect(&mut seq, INTEGER)?;
        while int.len() > 1 && int[0] == 0 {
            int = &int[1..];
        }
        if int.len() > width {
            return Err(DerError("signature integer too long"));
        }
        out.extend(std::iter::repeat_n(0, width - int.len()));
        out.extend_from_slice(int);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_integers_are_padded() {
        // SEQUENCE { INTEGER 0x00ff, INTEGER 0x01 }
        let sig = [0x30, 0x07, 0x02, 0x02, 0x00, 0xff, 0x02, 0x01, 0x01];
        assert_eq!(
            ecdsa_signature_fixed(&sig, 3).unwrap(),
            [0, 0, 0xff, 0, 0, 1]
        );
        assert!(ecdsa_signature_fixed(&sig[..5], 3).is_err());
    }

    #[test]
    fn long_lengths() {
        let mut tlv = vec![0x04, 0x81, 0x80];
        tlv.extend([7u8; 0x80]);
        let mut input = &tlv[..];
        let (tag, content, whole) = read(&mut input).unwrap();
        assert_eq!(
            (tag, content.len(), whole.len(), input.len()),
            (4, 0x80, 0x83, 0)
        );
    }
}
