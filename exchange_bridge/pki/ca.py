"""A small certificate authority for tests and pilots, with the `cryptography` package.

`init_ca` makes a self-signed root; `issue_unit` gives a unit (an exchange node: the
city, a county, a district) an RSA key and one certificate usable for CMS signing
(S/MIME), CMS encryption (RSA key transport) and TLS as client and server. In
production the unit certificates come from a government CA instead; nothing else here
depends on who issued them.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertPair", "fingerprint", "init_ca", "issue_unit", "load_cert", "load_key", "unit_code_of", "write_pair"]

DEFAULT_BITS = 3072


@dataclass(frozen=True, slots=True)
class CertPair:
    cert: Path
    key: Path


def _new_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_pair(cert: x509.Certificate, key: rsa.RSAPrivateKey, cert_path: Path, key_path: Path) -> CertPair:
    """Write a certificate (PEM) and its key (PEM, PKCS#8, mode 0600)."""
    _write_private(
        key_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertPair(cert_path, key_path)


def load_cert(path: Path) -> x509.Certificate:
    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("unit keys must be RSA (cryptography's CMS envelopes encrypt to RSA only)")
    return key


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lower-case hex: how peers are pinned."""
    return cert.fingerprint(hashes.SHA256()).hex()


def unit_code_of(cert: x509.Certificate) -> str:
    """The unit code a certificate names (its subject CN)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


@functools.lru_cache(maxsize=256)
def certificate_organisation(pem: str) -> str:
    """The organisation a unit certificate names (its subject O, `ca issue --name`), or ''
    for none or an unreadable certificate. Cached: the desk asks on every card it draws."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return ""
    names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value).strip() if names else ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def init_ca(directory: Path, name: str = "畅通交换测试根CA", days: int = 3650, bits: int = DEFAULT_BITS) -> CertPair:
    """A self-signed root (`ca.pem`, `ca.key`) in `directory`. Refuses to overwrite one."""
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if key_path.exists():
        raise FileExistsError(str(key_path))
    key = _new_key(bits)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Changtong")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return write_pair(cert, key, cert_path, key_path)


def _san(hosts: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for host in hosts:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def issue_unit(
    ca: CertPair,
    unit: str,
    out_dir: Path,
    *,
    unit_name: str = "",
    hosts: list[str] | None = None,
    days: int = 825,
    bits: int = DEFAULT_BITS,
) -> CertPair:
    """An RSA key and certificate for `unit` (its code is the subject CN), signed by `ca`,
    written to `out_dir/<unit>.pem` and `<unit>.key`. `hosts` (DNS names or IPs) go into
    the subjectAltName so the node's TLS server certificate matches its URL."""
    ca_cert, ca_key = load_cert(ca.cert), load_key(ca.key)
    key = _new_key(bits)
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, unit)]
    if unit_name:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit_name))
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=True, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    san = _san(hosts if hosts is not None else ["localhost", "127.0.0.1"])
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return write_pair(cert, key, out_dir / f"{unit}.pem", out_dir / f"{unit}.key")
