"""DKIM signing keys and the one operation done with them: signing the header data.

A module of its own, importing nothing but ``cryptography``, because a signed send runs it
in a child process too (:mod:`publisher.delivery.signing_process`), which should start in a
fraction of a second rather than import the whole digest package.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

SigningKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def load_rsa(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    if key.key_size < 1024:
        raise ValueError(f"a {key.key_size}-bit RSA key is too short (receivers want 1024+)")
    return key


def load_ed25519(pem: bytes) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return key


def sign(key: SigningKey, data: bytes) -> bytes:
    """The ``b=`` signature of the canonical header data (RFC 6376 3.7, RFC 8463 3)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    # RFC 8463 3: Ed25519 signs the SHA-256 hash of the canonical header data.
    return key.sign(hashlib.sha256(data).digest())
