"""What Ledgerline keeps secret at rest, encrypted with SECRET_KEY: webhook signing secrets,
and stored responses that carry one. (The token signer's private keys are too, as
passphrase-protected PKCS#8, the form their library reads: infra/signing_keys.py.)

AES-256-GCM under a key derived from SECRET_KEY with HKDF, a random nonce per value. Each
value is bound to where it belongs (`bound_to`, e.g. its table, tenant and row), so a
ciphertext copied into another row or tenant does not open there.
"""

from __future__ import annotations

import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Leads every sealed value: the format's version, and a mark that no clear text (JSON, a
# `whsec_` secret) ever starts with; the migrations' CHECKs test for it.
SEALED_PREFIX: Final = b"\x00lls1"
_NONCE_BYTES = 12


class WrongSecretKey(RuntimeError):
    """A value at rest does not open: SECRET_KEY is not the one it was sealed with."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"ledgerline secret box v1"
        ).derive(secret_key.encode("utf-8"))
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, bound_to: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, bound_to.encode("utf-8"))
        return SEALED_PREFIX + nonce + sealed

    def open(self, sealed: bytes, *, bound_to: str) -> bytes:
        if not is_sealed(sealed):
            raise ValueError("not a sealed value")
        start = len(SEALED_PREFIX)
        nonce, ciphertext = sealed[start : start + _NONCE_BYTES], sealed[start + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, bound_to.encode("utf-8"))
        except InvalidTag:
            raise WrongSecretKey(
                "cannot decrypt a value at rest: SECRET_KEY differs from the one it was "
                "sealed with (or the value was moved)"
            ) from None


def is_sealed(value: bytes) -> bool:
    return value.startswith(SEALED_PREFIX)
