"""PKI of the exchange: a small CA, unit certificates, CMS sign/envelope/verify/decrypt,
mutual-TLS contexts, and where a node keeps it all (`<data_dir>/pki`)."""

from .ca import CertPair, certificate_organisation, fingerprint, init_ca, issue_unit, load_cert, load_key, unit_code_of
from .cms import CmsError, Verified, check_chain, decrypt, envelope, sign, verify, verify_async
from .node import Identity, NodePki, check_unit_code
from .tls import client_context, server_context

__all__ = [
    "CertPair", "CmsError", "certificate_organisation", "check_chain", "Identity", "NodePki", "Verified", "check_unit_code", "client_context", "decrypt",
    "envelope", "fingerprint", "init_ca", "issue_unit", "load_cert", "load_key", "server_context", "sign",
    "unit_code_of", "verify", "verify_async",
]
