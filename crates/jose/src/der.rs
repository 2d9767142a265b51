//! Just enough DER (X.690) reading to route keys to aws-lc-rs: the algorithm of a
//! SubjectPublicKeyInfo or PKCS#8 structure, the point or modulus inside it, an RSA private key's
//! components for JWK export, and the SubjectPublicKeyInfo inside a certificate. Nothing here is
//! cryptographic; every key is still parsed and validated by aws-lc-rs.

pub const SEQUENCE: u8 = 0x30;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;

// Object identifiers, as their DER content bytes.
pub const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
pub const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
pub const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
pub const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
pub const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
pub const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
pub const OID_SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
pub const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// A cursor over DER bytes.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Reads one tag-length-value; returns the tag and the content.
    pub fn any(&mut self) -> Result<(u8, &'a [u8]), String> {
        let (&tag, after_tag) = self
            .rest
            .split_first()
            .ok_or("truncated DER: expected a tag")?;
        let (&first, mut after_len) = after_tag
            .split_first()
            .ok_or("truncated DER: expected a length")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err("DER length form is not supported".into());
            }
            let (len_bytes, rest) = after_len
                .split_at_checked(n)
                .ok_or("truncated DER length")?;
            after_len = rest;
            let mut len = 0usize;
            for &b in len_bytes {
                len = (len << 8) | usize::from(b);
            }
            if len < 0x80 || len_bytes.first() == Some(&0) {
                return Err("DER length is not minimally encoded".into());
            }
            len
        };
        let (content, rest) = after_len
            .split_at_checked(len)
            .ok_or("truncated DER value")?;
        self.rest = rest;
        Ok((tag, content))
    }

    /// Reads one element, requiring `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], String> {
        let (found, content) = self.any()?;
        if found != tag {
            return Err(format!(
                "DER: expected tag 0x{tag:02x}, found 0x{found:02x}"
            ));
        }
        Ok(content)
    }

    /// Reads one element and returns its full encoding (tag and length included).
    pub fn raw(&mut self) -> Result<&'a [u8], String> {
        let before = self.rest;
        self.any()?;
        let used = before.len() - self.rest.len();
        before
            .get(..used)
            .ok_or_else(|| "DER: internal length error".to_owned())
    }

    /// Reads an INTEGER as unsigned big-endian bytes without leading zeros.
    pub fn unsigned(&mut self) -> Result<&'a [u8], String> {
        let content = self.expect(INTEGER)?;
        if content.first().is_some_and(|b| b & 0x80 != 0) {
            return Err("DER: negative INTEGER where a positive one is required".into());
        }
        let start = content
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(content.len());
        Ok(content.get(start..).unwrap_or_default())
    }

    /// Peeks at the next tag.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }
}

/// An AlgorithmIdentifier: the algorithm OID and, if present, a parameter that is an OID.
pub struct AlgorithmId<'a> {
    pub oid: &'a [u8],
    pub param_oid: Option<&'a [u8]>,
}

pub fn algorithm_id<'a>(r: &mut Reader<'a>) -> Result<AlgorithmId<'a>, String> {
    let mut seq = Reader::new(r.expect(SEQUENCE)?);
    let oid = seq.expect(OID)?;
    let param_oid = match seq.peek_tag() {
        Some(OID) => Some(seq.expect(OID)?),
        _ => None,
    };
    Ok(AlgorithmId { oid, param_oid })
}

/// SubjectPublicKeyInfo (RFC 5280 §4.1): the algorithm and the key bits.
pub fn spki(der: &[u8]) -> Result<(AlgorithmId<'_>, &[u8]), String> {
    let mut outer = Reader::new(der);
    let mut seq = Reader::new(outer.expect(SEQUENCE)?);
    if !outer.is_empty() {
        return Err("trailing bytes after SubjectPublicKeyInfo".into());
    }
    let alg = algorithm_id(&mut seq)?;
    let bits = seq.expect(BIT_STRING)?;
    match bits.split_first() {
        Some((0, key)) => Ok((alg, key)),
        _ => Err("SubjectPublicKeyInfo key is not a whole number of bytes".into()),
    }
}

/// PKCS#8 PrivateKeyInfo (RFC 5208/5958): the algorithm and the inner private key.
pub fn pkcs8(der: &[u8]) -> Result<(AlgorithmId<'_>, &[u8]), String> {
    let mut outer = Reader::new(der);
    let mut seq = Reader::new(outer.expect(SEQUENCE)?);
    seq.expect(INTEGER)?;
    let alg = algorithm_id(&mut seq)?;
    let key = seq.expect(OCTET_STRING)?;
    Ok((alg, key))
}

/// The SubjectPublicKeyInfo of an X.509 certificate, as DER.
pub fn certificate_spki(der: &[u8]) -> Result<&[u8], String> {
    let mut outer = Reader::new(der);
    let mut cert = Reader::new(outer.expect(SEQUENCE)?);
    let mut tbs = Reader::new(cert.expect(SEQUENCE)?);
    if tbs.peek_tag() == Some(0xa0) {
        tbs.any()?; // [0] EXPLICIT version
    }
    tbs.expect(INTEGER)?; // serialNumber
    tbs.expect(SEQUENCE)?; // signature
    tbs.expect(SEQUENCE)?; // issuer
    tbs.expect(SEQUENCE)?; // validity
    tbs.expect(SEQUENCE)?; // subject
    tbs.raw()
}

/// The nine integers of a two-prime PKCS#1 RSAPrivateKey: n, e, d, p, q, dP, dQ, qInv.
pub fn rsa_private_components(pkcs1: &[u8]) -> Result<[&[u8]; 8], String> {
    let mut outer = Reader::new(pkcs1);
    let mut seq = Reader::new(outer.expect(SEQUENCE)?);
    let version = seq.unsigned()?;
    if !version.is_empty() {
        return Err("multi-prime RSA keys are not supported".into());
    }
    let mut out: [&[u8]; 8] = [&[]; 8];
    for slot in out.iter_mut() {
        *slot = seq.unsigned()?;
    }
    Ok(out)
}

/// PKCS#1 RSAPublicKey: n and e.
pub fn rsa_public_components(pkcs1: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut outer = Reader::new(pkcs1);
    let mut seq = Reader::new(outer.expect(SEQUENCE)?);
    let n = seq.unsigned()?;
    let e = seq.unsigned()?;
    if !seq.is_empty() || !outer.is_empty() {
        return Err("trailing bytes after RSAPublicKey".into());
    }
    Ok((n, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lengths_and_refuses_truncation() {
        let mut r = Reader::new(&[0x02, 0x01, 0x05, 0x04, 0x81, 0x80]);
        assert_eq!(r.unsigned().ok(), Some(&[5u8][..]));
        assert!(r.any().is_err(), "declared 128 bytes, none present");
        assert!(Reader::new(&[0x30]).any().is_err());
        assert!(
            Reader::new(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0])
                .any()
                .is_err(),
            "non-minimal length"
        );
        assert!(
            Reader::new(&[0x02, 0x01, 0x80]).unsigned().is_err(),
            "negative"
        );
    }
}
