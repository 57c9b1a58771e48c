"""`changtong ca …` and `changtong exchange …` (gathered by exchange_bridge/cli.py).

    changtong ca init [--name NAME]                  a small root CA in <data_dir>/pki/ca (tests, pilots)
    changtong ca issue UNIT [--host H]... [--install] a unit key + certificate signed by it
    changtong exchange identity --cert F --key F [--ca F]...   this node's unit certificate (any CA)
    changtong exchange trust FILE                    trust another root (e.g. the government CA)
    changtong exchange peer add NAME [URL] --cert F [--via PEER]
    changtong exchange peer list
    changtong exchange send --to UNIT [--to UNIT]... --title T FILE [ATTACHMENT]...
    changtong exchange list | quarantine
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from hub.errors import BadRequest, Conflict, NotFound

from .pki import NodePki, check_unit_code, fingerprint, init_ca, issue_unit, load_cert
from .pki.ca import DEFAULT_BITS

COMMANDS: frozenset[str] = frozenset({"ca", "exchange"})


def add_commands(sub: Any) -> None:
    ca = sub.add_parser("ca", help="a small certificate authority for exchange nodes (tests, pilots)")
    ca_sub = ca.add_subparsers(dest="action", required=True)
    init = ca_sub.add_parser("init", help="create a self-signed root CA in <data_dir>/pki/ca")
    init.add_argument("--name", default="畅通交换测试根CA", help="the CA's common name")
    init.add_argument("--days", type=int, default=3650)
    init.add_argument("--bits", type=int, default=DEFAULT_BITS)
    issue = ca_sub.add_parser("issue", help="issue a unit certificate (signing, encryption, TLS)")
    issue.add_argument("unit", help="unit code, e.g. dy-kenli (the certificate's CN)")
    issue.add_argument("--name", default="", help="the unit's name, e.g. 垦利区人民政府")
    issue.add_argument("--host", action="append", default=None, help="DNS name or IP of its exchange URL (repeatable)")
    issue.add_argument("--days", type=int, default=825)
    issue.add_argument("--bits", type=int, default=DEFAULT_BITS)
    issue.add_argument("--install", action="store_true", help="also make it this node's own unit certificate")

    ex = sub.add_parser("exchange", help="document exchange between nodes")
    ex_sub = ex.add_subparsers(dest="action", required=True)
    ident = ex_sub.add_parser("identity", help="install this node's unit certificate and key")
    ident.add_argument("--cert", type=Path, required=True)
    ident.add_argument("--key", type=Path, required=True)
    ident.add_argument("--ca", type=Path, action="append", default=[], help="a root to trust (repeatable)")
    trust = ex_sub.add_parser("trust", help="trust a root CA certificate (PEM or DER)")
    trust.add_argument("file", type=Path)
    for part in _EXTRA:
        part.add_commands(ex_sub)


def run(args: argparse.Namespace, config: Any) -> int:
    pki = NodePki.of(config.data_dir)
    if args.command == "ca":
        return _ca_init(pki, args) if args.action == "init" else _ca_issue(pki, args)
    if args.action == "identity":
        return _identity(pki, args)
    if args.action == "trust":
        path = _read_cert_or_fail(args.file)
        dest = pki.add_trust(path)
        print(f"已信任根证书 (trusted root): {dest}")
        return 0
    for part in _EXTRA:
        if args.action in part.ACTIONS:
            return part.run(args, config)
    raise AssertionError(args.action)


def _ca_init(pki: NodePki, args: argparse.Namespace) -> int:
    try:
        pair = init_ca(pki.ca.cert.parent, name=args.name, days=args.days, bits=args.bits)
    except FileExistsError as exc:
        raise Conflict("error.exchange_ca_exists", path=str(exc)) from exc
    pki.add_trust(pair.cert)
    print(f"已创建根证书 (CA created): {pair.cert}")
    print(f"  SHA-256 {fingerprint(load_cert(pair.cert))}")
    return 0


def _ca_issue(pki: NodePki, args: argparse.Namespace) -> int:
    unit = _unit_code(args.unit)
    if not pki.ca.key.is_file():
        raise NotFound("error.exchange_no_ca")
    pair = issue_unit(pki.ca, unit, pki.issued_dir, unit_name=args.name, hosts=args.host, days=args.days, bits=args.bits)
    print(f"已签发单位证书 (issued): {pair.cert}")
    print(f"  私钥 (key): {pair.key}")
    print(f"  SHA-256 {fingerprint(load_cert(pair.cert))}")
    if args.install:
        pki.install_identity(pair.cert, pair.key)
        print(f"已设为本节点证书 (installed as this node's certificate): {pki.identity.cert}")
    return 0


def _identity(pki: NodePki, args: argparse.Namespace) -> int:
    for ca in args.ca:
        pki.add_trust(_read_cert_or_fail(ca))
    _read_cert_or_fail(args.cert)
    try:
        unit = pki.install_identity(args.cert, args.key)
    except ValueError as exc:
        if "does not belong" in str(exc):
            raise BadRequest("error.exchange_key_mismatch") from exc
        raise BadRequest("error.exchange_bad_cert", path=str(args.key), detail=str(exc)) from exc
    except OSError as exc:
        raise BadRequest("error.exchange_bad_cert", path=str(args.key), detail=exc.strerror or str(exc)) from exc
    _unit_code(unit)
    print(f"本节点单位 (this node's unit): {unit}")
    print(f"  SHA-256 {fingerprint(load_cert(pki.identity.cert))}")
    return 0


def _unit_code(code: str) -> str:
    try:
        return check_unit_code(code)
    except ValueError as exc:
        raise BadRequest("error.exchange_bad_unit_code", code=code) from exc


def _read_cert_or_fail(path: Path) -> Path:
    try:
        load_cert(path)
    except OSError as exc:
        raise BadRequest("error.exchange_bad_cert", path=str(path), detail=exc.strerror or str(exc)) from exc
    except ValueError as exc:
        raise BadRequest("error.exchange_bad_cert", path=str(path), detail=str(exc)) from exc
    return path


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


_EXTRA: tuple[Any, ...] = ()
