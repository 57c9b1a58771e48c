"""Where a node keeps its keys and certificates: `<data_dir>/pki/`.

```
pki/ca/ca.pem, ca.key             the small CA (`changtong ca init`), on the node that runs it
pki/ca/issued/<unit>.pem, .key    unit certificates it issued (`changtong ca issue UNIT`)
pki/node/unit.pem, unit.key       this node's own unit certificate (`changtong exchange identity`)
pki/trust/*.pem                   trusted roots (our CA, or the government CA)
pki/trust.pem                     all of trust/ in one file (what OpenSSL and TLS load)
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .ca import CertPair, fingerprint, load_cert, load_key, unit_code_of, write_pair

__all__ = ["Identity", "NodePki", "UNIT_CODE", "check_unit_code"]

UNIT_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_unit_code(code: str) -> str:
    if not UNIT_CODE.match(code):
        raise ValueError(code)
    return code


@dataclass(frozen=True)
class NodePki:
    root: Path

    @classmethod
    def of(cls, data_dir: Path) -> NodePki:
        return cls(Path(data_dir) / "pki")

    @property
    def ca(self) -> CertPair:
        return CertPair(self.root / "ca" / "ca.pem", self.root / "ca" / "ca.key")

    @property
    def issued_dir(self) -> Path:
        return self.root / "ca" / "issued"

    @property
    def identity(self) -> CertPair:
        return CertPair(self.root / "node" / "unit.pem", self.root / "node" / "unit.key")

    @property
    def trust_dir(self) -> Path:
        return self.root / "trust"

    @property
    def trust_file(self) -> Path:
        return self.root / "trust.pem"

    def has_identity(self) -> bool:
        return self.identity.cert.is_file() and self.identity.key.is_file() and self.trust_file.is_file()

    def add_trust(self, ca_cert: Path) -> Path:
        """Trust a root (PEM or DER); rebuilds `trust.pem`."""
        cert = load_cert(ca_cert)
        self.trust_dir.mkdir(parents=True, exist_ok=True)
        dest = self.trust_dir / f"{fingerprint(cert)[:16]}.pem"
        dest.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        bundle = b"".join(p.read_bytes() for p in sorted(self.trust_dir.glob("*.pem")))
        tmp = self.trust_file.with_suffix(".tmp")
        tmp.write_bytes(bundle)
        tmp.replace(self.trust_file)
        return dest

    def install_identity(self, cert: Path, key: Path) -> str:
        """Make `cert`/`key` this node's unit certificate; returns its unit code."""
        c, k = load_cert(cert), load_key(key)
        if c.public_key().public_numbers() != k.public_key().public_numbers():
            raise ValueError("the key does not belong to the certificate")
        write_pair(c, k, self.identity.cert, self.identity.key)
        return unit_code_of(c)


@dataclass(frozen=True)
class Identity:
    """This node's loaded unit certificate and key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    pki: NodePki

    @classmethod
    def load(cls, pki: NodePki) -> Identity:
        return cls(load_cert(pki.identity.cert), load_key(pki.identity.key), pki)

    @cached_property
    def unit(self) -> str:
        return unit_code_of(self.cert)

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)
