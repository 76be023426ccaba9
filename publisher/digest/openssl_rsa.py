"""RSA-SHA256 (PKCS#1 v1.5) signatures from the system's OpenSSL, with the interpreter free.

Why this exists: ``cryptography`` holds Python's global interpreter lock while OpenSSL
computes a signature (about 0.4 ms for RSA-2048). A sender's lanes are threads, so with
DKIM on they signed one at a time and a process spent more time signing than sending.
Called through ``ctypes``, the same OpenSSL function runs with the lock released, so the
lanes sign in parallel on every core while others wait on the network.

This is a binding, not cryptography of our own: the key is parsed and the signature made
by OpenSSL's ``PEM_read_bio_PrivateKey`` and ``EVP_DigestSign``. PKCS#1 v1.5 signatures are
deterministic, so they are byte for byte those of ``cryptography`` (a test compares them),
and dkimpy and OpenDKIM verify them in the DKIM tests. Where the system has no OpenSSL 3
``libcrypto`` (or it refuses the key), :func:`load` returns None and the caller keeps
signing through ``cryptography``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

_P = ctypes.c_void_p


@functools.cache
def _libcrypto() -> Any | None:
    """OpenSSL 3's libcrypto with the signatures of the functions used, or None."""
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)  # CDLL, not PyDLL: calls release the interpreter lock
        lib.OpenSSL_version_num.restype = ctypes.c_ulong
        if lib.OpenSSL_version_num() < 0x30000000:
            return None
        for function, argtypes, restype in (
            ("BIO_new_mem_buf", [ctypes.c_char_p, ctypes.c_int], _P),
            ("BIO_free", [_P], ctypes.c_int),
            ("PEM_read_bio_PrivateKey", [_P, _P, _P, _P], _P),
            ("EVP_PKEY_free", [_P], None),
            ("EVP_PKEY_get_base_id", [_P], ctypes.c_int),
            ("EVP_PKEY_get_size", [_P], ctypes.c_int),
            ("EVP_MD_CTX_new", [], _P),
            ("EVP_MD_CTX_free", [_P], None),
            ("EVP_sha256", [], _P),
            ("EVP_DigestSignInit", [_P, _P, _P, _P, _P], ctypes.c_int),
            (
                "EVP_DigestSign",
                [
                    _P,
                    ctypes.c_char_p,
                    ctypes.POINTER(ctypes.c_size_t),
                    ctypes.c_char_p,
                    ctypes.c_size_t,
                ],
                ctypes.c_int,
            ),
        ):
            func = getattr(lib, function)
            func.argtypes, func.restype = argtypes, restype
    except (OSError, AttributeError):
        return None
    return lib


_EVP_PKEY_RSA = 6  # NID_rsaEncryption


class OpenSslRsaKey:
    """An RSA private key held by OpenSSL; :meth:`sign` may be called from any thread."""

    def __init__(self, lib: Any, pkey: int) -> None:
        self._lib = lib
        self._pkey = pkey
        self._size = int(lib.EVP_PKEY_get_size(pkey))

    def sign(self, data: bytes) -> bytes:
        """The RSASSA-PKCS1-v1_5 signature of SHA-256(``data``), as ``cryptography`` makes it."""
        lib = self._lib
        ctx = lib.EVP_MD_CTX_new()
        if not ctx:
            raise MemoryError("OpenSSL could not allocate a digest context")
        try:
            if lib.EVP_DigestSignInit(ctx, None, lib.EVP_sha256(), None, self._pkey) != 1:
                raise ValueError("OpenSSL refused to start an RSA-SHA256 signature")
            length = ctypes.c_size_t(self._size)
            out = ctypes.create_string_buffer(self._size)
            if lib.EVP_DigestSign(ctx, out, ctypes.byref(length), data, len(data)) != 1:
                raise ValueError("OpenSSL could not sign")
            return out.raw[: length.value]
        finally:
            lib.EVP_MD_CTX_free(ctx)

    def __del__(self) -> None:
        pkey, self._pkey = self._pkey, 0
        if pkey:
            self._lib.EVP_PKEY_free(pkey)


def load(pem: bytes) -> OpenSslRsaKey | None:
    """The PEM RSA private key in OpenSSL, or None (no OpenSSL 3, or not an RSA key)."""
    lib = _libcrypto()
    if lib is None:
        return None
    bio = lib.BIO_new_mem_buf(pem, len(pem))
    if not bio:
        return None
    try:
        pkey = lib.PEM_read_bio_PrivateKey(bio, None, None, None)
    finally:
        lib.BIO_free(bio)
    if not pkey:
        return None
    if lib.EVP_PKEY_get_base_id(pkey) != _EVP_PKEY_RSA:
        lib.EVP_PKEY_free(pkey)
        return None
    return OpenSslRsaKey(lib, pkey)
