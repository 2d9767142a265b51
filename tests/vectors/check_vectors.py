#!/usr/bin/env python3
"""Independent re-verification of the JOSE test vectors in this directory.

Uses only the JSON fixtures next to this file and the `cryptography` package
(pip install --user cryptography).  Exit status is 0 only if every check passes.

    python3 tests/vectors/check_vectors.py                      # verify everything
    python3 tests/vectors/check_vectors.py --write-thumbprints  # (re)generate thumbprints.json, then verify
"""
import base64
import hashlib
import hmac
import json
import math
import os
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = []


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def check(label, fn):
    try:
        detail = fn()
        ok = detail is None or detail is True
        msg = "" if ok else str(detail)
    except Exception as e:  # noqa: BLE001
        ok, msg = False, "%s: %s" % (type(e).__name__, e)
    RESULTS.append((label, ok))
    print("%s  %s%s" % ("PASS" if ok else "FAIL", label, ("  -- " + msg) if msg else ""))


B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64d(s):
    """Strict base64url decode: URL alphabet, no padding, canonical (re-encodes identically)."""
    if not B64URL.match(s):
        raise ValueError("not unpadded base64url: %r" % s[:40])
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if b64e(raw) != s:
        raise ValueError("non-canonical base64url: %r" % s[:40])
    return raw


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b2i(s):
    return int.from_bytes(b64d(s), "big")


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


# ---------------------------------------------------------------- key helpers
CURVES = {"P-256": (ec.SECP256R1(), 32, hashes.SHA256()),
          "P-384": (ec.SECP384R1(), 48, hashes.SHA384()),
          "P-521": (ec.SECP521R1(), 66, hashes.SHA512())}


def rsa_public(jwk):
    return rsa.RSAPublicNumbers(b2i(jwk["e"]), b2i(jwk["n"])).public_key()


def rsa_private(jwk):
    n, e, d = b2i(jwk["n"]), b2i(jwk["e"]), b2i(jwk["d"])
    p, q = b2i(jwk["p"]), b2i(jwk["q"])
    dp, dq, qi = b2i(jwk["dp"]), b2i(jwk["dq"]), b2i(jwk["qi"])
    expect(p * q == n, "n != p*q")
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    expect((e * d) % lam == 1, "e*d != 1 mod lcm(p-1,q-1)")
    expect(dp == d % (p - 1) and dq == d % (q - 1), "dp/dq inconsistent with d")
    expect((qi * q) % p == 1, "qi is not q^-1 mod p")
    return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n)).private_key()


def ec_public(jwk):
    curve, size, _ = CURVES[jwk["crv"]]
    expect(len(b64d(jwk["x"])) == size and len(b64d(jwk["y"])) == size, "x/y not %d octets" % size)
    return ec.EllipticCurvePublicNumbers(b2i(jwk["x"]), b2i(jwk["y"]), curve).public_key()


def ec_private(jwk):
    curve, size, _ = CURVES[jwk["crv"]]
    expect(len(b64d(jwk["d"])) == size, "d not %d octets" % size)
    key = ec.derive_private_key(b2i(jwk["d"]), curve)
    pn = key.public_key().public_numbers()
    expect(pn.x == b2i(jwk["x"]) and pn.y == b2i(jwk["y"]), "d*G != (x, y)")
    return key


def ed25519_private(jwk):
    expect(jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519", "not an Ed25519 OKP key")
    key = Ed25519PrivateKey.from_private_bytes(b64d(jwk["d"]))
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    expect(pub == b64d(jwk["x"]), "public key derived from d != x")
    return key


def ecdsa_verify(jwk, alg, signing_input, sig_b64):
    curve, size, h = CURVES[jwk["crv"]]
    expect({"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg] == jwk["crv"], "alg/crv mismatch")
    raw = b64d(sig_b64)
    expect(len(raw) == 2 * size, "signature is %d octets, want %d (R||S)" % (len(raw), 2 * size))
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    ec_public(jwk).verify(encode_dss_signature(r, s), signing_input.encode("ascii"), ec.ECDSA(h))


# ------------------------------------------------------------- JWK thumbprint
REQUIRED = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
            "oct": ("k", "kty"), "OKP": ("crv", "kty", "x")}


def canonical(jwk):
    members = {k: jwk[k] for k in REQUIRED[jwk["kty"]]}
    return json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def thumbprint(jwk):
    return b64e(hashlib.sha256(canonical(jwk).encode("utf-8")).digest())


# ------------------------------------------------------------- JWS structure
def check_structure(v, protected_obj=None):
    """protected/payload/signing-input/compact consistency for a compact JWS vector."""
    compact = v.get("jws", v.get("compact"))
    parts = compact.split(".")
    expect(len(parts) == 3, "compact JWS does not have 3 parts")
    expect(parts[0] == v["protected_b64"] and parts[1] == v["payload_b64"], "compact parts != protected_b64/payload_b64")
    expect(parts[2] == v["signature_b64"], "compact signature != signature_b64")
    expect(v["signing_input"] == v["protected_b64"] + "." + v["payload_b64"], "signing_input != protected.payload")
    hdr = b64d(v["protected_b64"])
    if "protected_json" in v:
        expect(hdr == v["protected_json"].encode("utf-8"), "protected_b64 does not decode to protected_json (bytes)")
    if protected_obj is not None:
        expect(json.loads(hdr) == protected_obj, "protected_b64 does not decode to 'protected'")
    expect(json.loads(hdr)["alg"] == v["alg"], "header alg != alg")
    expect(b64d(v["payload_b64"]) == v["payload"].encode("utf-8"), "payload_b64 does not decode to payload")
    if v["signature_b64"]:
        b64d(v["signature_b64"])


def sign_hs(k_b64, alg, si):
    h = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    return b64e(hmac.new(b64d(k_b64), si.encode("ascii"), h).digest())


# ======================================================================= main
def main():
    if "--write-thumbprints" in sys.argv:
        write_thumbprints()

    # ---------------- RFC 7515 Appendix A
    r = load("rfc7515.json")
    for sec in ("A.1", "A.2", "A.3", "A.4", "A.5"):
        check("RFC7515 %s structure (b64 parts, signing input, compact)" % sec, lambda v=r[sec]: check_structure(v))
    a1 = r["A.1"]
    check("RFC7515 A.1 header bytes contain CRLF", lambda: expect(b"\r\n" in b64d(a1["protected_b64"]), "no CRLF"))
    check("RFC7515 A.1 HS256 recomputed == signature",
          lambda: expect(sign_hs(a1["jwk"]["k"], "HS256", a1["signing_input"]) == a1["signature_b64"], "HMAC differs"))
    a2 = r["A.2"]

    def rs256_a2():
        key = rsa_private(a2["jwk"])
        sig = key.sign(a2["signing_input"].encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        expect(b64e(sig) == a2["signature_b64"], "re-signed RS256 differs")
        rsa_public(a2["jwk"]).verify(b64d(a2["signature_b64"]), a2["signing_input"].encode(), padding.PKCS1v15(), hashes.SHA256())
    check("RFC7515 A.2 RSA key consistent + RS256 re-signed byte-identical + verifies", rs256_a2)
    for sec in ("A.3", "A.4"):
        v = r[sec]
        check("RFC7515 %s EC key consistent (d*G == x,y)" % sec, lambda v=v: ec_private(v["jwk"]) and None)
        check("RFC7515 %s %s signature verifies" % (sec, v["alg"]),
              lambda v=v: ecdsa_verify(v["jwk"], v["alg"], v["signing_input"], v["signature_b64"]))
    a5 = r["A.5"]
    check("RFC7515 A.5 alg none, empty signature, compact ends with '.'",
          lambda: expect(json.loads(b64d(a5["protected_b64"]))["alg"] == "none" and a5["signature_b64"] == ""
                         and a5["jws"].endswith(".") and a5["jws"] == a5["signing_input"] + ".", "bad unsecured JWS"))

    # ---------------- RFC 7520 Sections 3 and 4
    r = load("rfc7520.json")
    keys = r["keys"]
    check("RFC7520 3.2 EC P-521 private key consistent", lambda: ec_private(keys["3.2"]) and None)
    check("RFC7520 3.1 == public members of 3.2",
          lambda: expect(keys["3.1"] == {k: v for k, v in keys["3.2"].items() if k != "d"}, "differs"))
    check("RFC7520 3.4 RSA private key consistent", lambda: rsa_private(keys["3.4"]) and None)
    check("RFC7520 3.3 == public members of 3.4",
          lambda: expect(keys["3.3"] == {k: v for k, v in keys["3.4"].items() if k not in ("d", "p", "q", "dp", "dq", "qi")}, "differs"))
    check("RFC7520 3.5 HMAC key is 32 octets", lambda: expect(len(b64d(keys["3.5"]["k"])) == 32, "wrong length"))
    check("RFC7520 payload contains U+2019 and decodes from payload_b64",
          lambda: expect("\u2019" in r["payload"] and b64d(r["payload_b64"]) == r["payload"].encode("utf-8"), "payload mismatch"))
    for sec in ("4.1", "4.2", "4.3", "4.4"):
        v = r[sec]
        check("RFC7520 %s structure" % sec, lambda v=v: (check_structure(v, v["protected"]),
                                                         expect(v["payload"] == r["payload"], "payload differs"))[1])
    v41 = r["4.1"]

    def rs256_41():
        si = v41["signing_input"].encode("ascii")
        sig = rsa_private(keys[v41["key"]]).sign(si, padding.PKCS1v15(), hashes.SHA256())
        expect(b64e(sig) == v41["signature_b64"], "re-signed RS256 differs")
        rsa_public(keys[v41["verify_key"]]).verify(sig, si, padding.PKCS1v15(), hashes.SHA256())
    check("RFC7520 4.1 RS256 re-signed byte-identical + verifies with 3.3", rs256_41)
    v42 = r["4.2"]
    check("RFC7520 4.2 PS384 verifies with 3.3 (salt 48)",
          lambda: rsa_public(keys[v42["verify_key"]]).verify(
              b64d(v42["signature_b64"]), v42["signing_input"].encode("ascii"),
              padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48), hashes.SHA384()))
    v43 = r["4.3"]
    check("RFC7520 4.3 ES512 verifies with 3.1",
          lambda: ecdsa_verify(keys[v43["verify_key"]], "ES512", v43["signing_input"], v43["signature_b64"]))
    v44 = r["4.4"]
    check("RFC7520 4.4 HS256 recomputed byte-identical",
          lambda: expect(sign_hs(keys[v44["key"]]["k"], "HS256", v44["signing_input"]) == v44["signature_b64"], "HMAC differs"))

    # ---------------- RFC 8037 Appendix A
    r = load("rfc8037.json")
    check("RFC8037 A.1 d -> x (Ed25519) and hex dumps match",
          lambda: (ed25519_private(r["A.1"]["jwk"]),
                   expect(b64d(r["A.1"]["jwk"]["d"]).hex() == r["A.1"]["d_hex"]
                          and b64d(r["A.1"]["jwk"]["x"]).hex() == r["A.1"]["x_hex"], "hex mismatch"))[1])
    check("RFC8037 A.2 == public members of A.1",
          lambda: expect(r["A.2"]["jwk"] == {k: v for k, v in r["A.1"]["jwk"].items() if k != "d"}, "differs"))
    check("RFC8037 A.3 canonical JSON, SHA-256 hex and thumbprint recomputed",
          lambda: expect(canonical(r["A.2"]["jwk"]) == r["A.3"]["canonical_json"]
                         and hashlib.sha256(r["A.3"]["canonical_json"].encode()).hexdigest() == r["A.3"]["sha256_hex"]
                         and thumbprint(r["A.1"]["jwk"]) == r["A.3"]["thumbprint"] == thumbprint(r["A.2"]["jwk"]), "mismatch"))
    a4 = r["A.4"]
    check("RFC8037 A.4 structure", lambda: check_structure(a4))

    def ed_a4():
        sig = ed25519_private(r["A.1"]["jwk"]).sign(a4["signing_input"].encode("ascii"))
        expect(b64e(sig) == a4["signature_b64"], "re-signed Ed25519 differs")
        ed25519_private(r["A.1"]["jwk"]).public_key().verify(sig, a4["signing_input"].encode("ascii"))
    check("RFC8037 A.4 EdDSA re-signed byte-identical + verifies", ed_a4)

    # ---------------- RFC 7638 Section 3.1
    r = load("rfc7638.json")
    check("RFC7638 3.1 canonical JSON recomputed", lambda: expect(canonical(r["jwk"]) == r["canonical_json"], "differs"))
    check("RFC7638 3.1 SHA-256 octets + thumbprint recomputed",
          lambda: expect(list(hashlib.sha256(r["canonical_json"].encode()).digest()) == r["sha256_octets"]
                         and thumbprint(r["jwk"]) == r["thumbprint"] == b64e(bytes(r["sha256_octets"])), "differs"))

    # ---------------- RFC 7517 Appendix A
    r17 = load("rfc7517.json")
    check("RFC7517 A.2 EC key consistent (d*G == x,y)", lambda: ec_private(r17["A.2"]["keys"][0]) and None)
    check("RFC7517 A.2 RSA key consistent", lambda: rsa_private(r17["A.2"]["keys"][1]) and None)
    check("RFC7517 A.1 == public members of A.2 (both keys)",
          lambda: expect([{k: v for k, v in key.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
                          for key in r17["A.2"]["keys"]] == r17["A.1"]["keys"], "differs"))
    check("RFC7517 A.3 A128KW key 16 octets; HMAC key == RFC7515 A.1 key",
          lambda: expect(len(b64d(r17["A.3"]["keys"][0]["k"])) == 16
                         and r17["A.3"]["keys"][1]["k"] == load("rfc7515.json")["A.1"]["jwk"]["k"], "mismatch"))
    check("RFC7638 3.1 JWK == RFC7517 A.1 RSA key", lambda: expect(r["jwk"] == r17["A.1"]["keys"][1], "differs"))

    # ---------------- thumbprints.json
    def tp_check():
        stored = load("thumbprints.json")
        computed = all_thumbprints()
        expect(stored == computed, "thumbprints.json differs from recomputation: %s"
               % sorted(k for k in set(stored) | set(computed) if stored.get(k) != computed.get(k)))
    check("thumbprints.json recomputed (%d keys)" % len(all_thumbprints()), tp_check)

    failed = [l for l, ok in RESULTS if not ok]
    print("\n%d checks, %d passed, %d failed" % (len(RESULTS), len(RESULTS) - len(failed), len(failed)))
    return 1 if failed else 0


def all_jwks():
    out = []
    r = load("rfc7515.json")
    out += [("rfc7515.json#/%s/jwk" % s, r[s]["jwk"]) for s in ("A.1", "A.2", "A.3", "A.4")]
    r = load("rfc7520.json")
    out += [("rfc7520.json#/keys/%s" % s, r["keys"][s]) for s in ("3.1", "3.2", "3.3", "3.4", "3.5")]
    r = load("rfc8037.json")
    out += [("rfc8037.json#/%s/jwk" % s, r[s]["jwk"]) for s in ("A.1", "A.2")]
    out += [("rfc7638.json#/jwk", load("rfc7638.json")["jwk"])]
    r = load("rfc7517.json")
    for s in ("A.1", "A.2", "A.3"):
        out += [("rfc7517.json#/%s/keys/%d" % (s, i), k) for i, k in enumerate(r[s]["keys"])]
    return out


def all_thumbprints():
    return {path: thumbprint(jwk) for path, jwk in all_jwks()}


def write_thumbprints():
    with open(os.path.join(HERE, "thumbprints.json"), "w", encoding="utf-8") as f:
        json.dump(all_thumbprints(), f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
