#!/usr/bin/env python3
"""An independent implementation of the gateway's key_seed derivation (crates/gateway/src/key_seed.rs),
with Python's `cryptography`, printing the vectors of key_seed_vectors.json:

    python3 crates/gateway/testdata/key_seed_vectors.py > crates/gateway/testdata/key_seed_vectors.json
"""
import base64
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

SEED = b"signet key_seed test vector seed, 48 bytes long!"
SALT = b"signet-gateway key_seed v1"
INFO = "signet-gateway auth-token key v1"
CURVES = {
    "ES256": ("P-256", ec.SECP256R1(), 32, 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "ES384": ("P-384", ec.SECP384R1(), 48, int("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16)),
    "ES512": ("P-521", ec.SECP521R1(), 66, int("01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409", 16)),
}


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def okm(info, length):
    prk = hmac.new(SALT, SEED, hashlib.sha256).digest()  # HKDF-Extract
    return HKDFExpand(hashes.SHA256(), length, info.encode()).derive(prk)


def thumbprint(members):
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return b64(hashlib.sha256(canonical).digest())


def derive(alg, period):
    if alg == "EdDSA":
        d = okm(f"{INFO} EdDSA {period} 0", 32)
        x = ed25519.Ed25519PrivateKey.from_private_bytes(d).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return thumbprint({"crv": "Ed25519", "kty": "OKP", "x": b64(x)})
    crv, curve, length, order = CURVES[alg]
    attempt = 0
    while True:
        d = bytearray(okm(f"{INFO} {alg} {period} {attempt}", length))
        if alg == "ES512":
            d[0] &= 0x01
        n = int.from_bytes(d, "big")
        if 1 <= n < order:
            break
        attempt += 1
    public = ec.derive_private_key(n, curve).public_key().public_numbers()
    size = (curve.key_size + 7) // 8
    return thumbprint({"crv": crv, "kty": "EC",
                       "x": b64(public.x.to_bytes(size, "big")),
                       "y": b64(public.y.to_bytes(size, "big"))})


vectors = [{"alg": alg, "period": p, "thumbprint": derive(alg, p)}
           for alg in ["EdDSA", "ES256", "ES384", "ES512"] for p in [0, 490000, 490001]]
print(json.dumps({"seed": SEED.decode(), "command": "python3 crates/gateway/testdata/key_seed_vectors.py",
                  "vectors": vectors}, indent=2))
