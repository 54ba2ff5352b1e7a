"""The token signer's keys: generated on first start, kept in the database (so every
replica signs with the same key), the private half encrypted with SECRET_KEY."""

from __future__ import annotations

from dataclasses import dataclass

from joserfc.jwk import ECKey, Key, KeySet
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.tokens import ALGORITHM
from infra.secret_box import WrongSecretKey
from infra.tables import signing_keys


@dataclass(frozen=True)
class SigningKeys:
    current: ECKey
    public: KeySet

    def jwks(self) -> dict[str, object]:
        return {"keys": [_public_jwk(key) for key in self.public.keys]}


def _public_jwk(key: Key) -> dict[str, object]:
    return {**key.as_dict(private=False), "alg": ALGORITHM, "use": "sig"}


async def load_or_create(engine: AsyncEngine, secret_key: str) -> SigningKeys:
    async with engine.begin() as conn:
        # Serialises the first start of several replicas: one generates, the others load it.
        await conn.exec_driver_sql("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
        rows = (
            await conn.execute(
                select(signing_keys)
                .where(signing_keys.c.retired_at.is_(None))
                .order_by(signing_keys.c.created_at.desc())
            )
        ).all()
        if not rows:
            key = ECKey.generate_key("P-256", auto_kid=True)
            await conn.execute(
                insert(signing_keys).values(
                    kid=key.kid,
                    algorithm=ALGORITHM,
                    private_key=key.as_pem(private=True, password=secret_key),
                    public_jwk=_public_jwk(key),
                )
            )
            return SigningKeys(current=key, public=KeySet([key]))
    keys = [_decrypt(row.private_key, row.kid, secret_key) for row in rows]
    # A copy, typed as KeySet's list[Key] (a list[ECKey] is not one: lists are invariant).
    return SigningKeys(current=keys[0], public=KeySet(list(keys)))


def _decrypt(private_key: bytes, kid: str, secret_key: str) -> ECKey:
    try:
        return ECKey.import_key(private_key, {"kid": kid}, password=secret_key)
    except (ValueError, TypeError) as exc:
        raise WrongSecretKey(
            "cannot decrypt the token signing key: SECRET_KEY differs from the one it was "
            "created with"
        ) from exc
