"""OAuth client secrets: random, shown once, stored only as a hash.

Secrets are 256 random bits, so a fast hash cannot be brute-forced; a slow password hash
(argon2, bcrypt) would only slow every token request down.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "llsec_"


def new_client_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def verify_client_secret(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_client_secret(secret), stored_hash)
