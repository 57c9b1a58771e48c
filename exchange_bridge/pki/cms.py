"""CMS (PKCS#7) for exchange packages and receipts.

Signing and encryption use the `cryptography` package: a SignedData with the content
attached, signed with the Binary option (the bytes are signed exactly as given, no MIME
canonicalisation), then an EnvelopedData (AES-256-CBC, RSA key transport) to each
recipient. Both are DER, and `openssl cms -verify` / `openssl cms -decrypt` accept them.

`cryptography` has no CMS signature verification, so `verify` runs OpenSSL itself
(`openssl cms -verify`), in a subprocess with a time limit: it checks the signature,
the digest and the signer's chain up to the trusted roots, and hands back the content
and the signer certificate. No ASN.1 is checked by hand here.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

__all__ = ["CmsError", "Verified", "check_chain", "decrypt", "envelope", "sign", "verify", "verify_async", "OPENSSL"]

OPENSSL = os.environ.get("CHANGTONG_OPENSSL", "openssl")
VERIFY_TIMEOUT = 30.0


class CmsError(Exception):
    """Verification or decryption failed; `reason` is a stable code:
    malformed, decrypt_failed, untrusted_signer, bad_signature, verify_timeout."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True, slots=True)
class Verified:
    content: bytes
    signer: x509.Certificate


def sign(data: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    """SignedData (DER) over `data`, attached, SHA-256, the signer certificate included."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def envelope(data: bytes, recipients: Sequence[x509.Certificate]) -> bytes:
    """EnvelopedData (DER), AES-256-CBC, the content key wrapped for each RSA recipient."""
    if not recipients:
        raise ValueError("an envelope needs at least one recipient")
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(data).set_content_encryption_algorithm(algorithms.AES256)
    for cert in recipients:
        builder = builder.add_recipient(cert)
    return builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def decrypt(der: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    """The content of an EnvelopedData addressed to `cert`."""
    try:
        return pkcs7.pkcs7_decrypt_der(der, cert, key, [])
    except ValueError as exc:
        raise CmsError("decrypt_failed", str(exc)) from exc


def _verify_args(trust_file: Path, signer_out: Path) -> list[str]:
    return [
        OPENSSL, "cms", "-verify", "-inform", "DER", "-binary",
        "-CAfile", str(trust_file), "-purpose", "any",
        "-signer", str(signer_out),
    ]


def _reason(stderr: str) -> str:
    text = stderr.lower()
    if "certificate verify error" in text or "signer certificate not found" in text:
        return "untrusted_signer"
    if "content verify error" in text or "digest failure" in text or "signature failure" in text or "verification failure" in text:
        return "bad_signature"
    return "malformed"


def _result(returncode: int, stdout: bytes, stderr: bytes, signer_out: Path) -> Verified:
    if returncode != 0:
        err = stderr.decode("utf-8", "replace")
        raise CmsError(_reason(err), err.strip()[-500:])
    return Verified(stdout, x509.load_pem_x509_certificate(signer_out.read_bytes()))


def verify(der: bytes, trust_file: Path, timeout: float = VERIFY_TIMEOUT) -> Verified:
    """Check a SignedData against the roots in `trust_file` (blocking)."""
    with tempfile.TemporaryDirectory(prefix="changtong-cms-") as tmp:
        signer_out = Path(tmp) / "signer.pem"
        try:
            done = subprocess.run(_verify_args(trust_file, signer_out), input=der, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise CmsError("verify_timeout") from exc
        return _result(done.returncode, done.stdout, done.stderr, signer_out)


async def verify_async(der: bytes, trust_file: Path, timeout: float = VERIFY_TIMEOUT) -> Verified:
    """`verify` without blocking the event loop; the subprocess is killed past `timeout`."""
    with tempfile.TemporaryDirectory(prefix="changtong-cms-") as tmp:
        signer_out = Path(tmp) / "signer.pem"
        proc = await asyncio.create_subprocess_exec(
            *_verify_args(trust_file, signer_out),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(der), timeout)
        except asyncio.TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise CmsError("verify_timeout") from exc
        assert proc.returncode is not None
        return _result(proc.returncode, stdout, stderr, signer_out)


def check_chain(cert_pem: bytes, trust_file: Path, timeout: float = VERIFY_TIMEOUT) -> None:
    """`openssl verify`: the certificate chains to a root in `trust_file` and is valid
    now. Raises CmsError("untrusted_signer", why) otherwise."""
    try:
        done = subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(trust_file), "-purpose", "any"], input=cert_pem, capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise CmsError("verify_timeout") from exc
    if done.returncode != 0:
        raise CmsError("untrusted_signer", (done.stdout + done.stderr).decode("utf-8", "replace").strip()[-500:])
