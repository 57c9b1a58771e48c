"""`changtong ca …` and `changtong exchange …` (gathered by exchange_bridge/cli.py).

    changtong ca init [--name NAME]                  a small root CA in <data_dir>/pki/ca (tests, pilots)
    changtong ca issue UNIT [--host H]... [--install] a unit key + certificate signed by it
    changtong exchange identity --cert F --key F [--ca F]...   this node's unit certificate (any CA)
    changtong exchange trust FILE                    trust another root (e.g. the government CA)
    changtong exchange peer add NAME [URL] --cert F [--via PEER]
    changtong exchange peer list
    changtong exchange send --to UNIT [--to UNIT]... --title T FILE [ATTACHMENT]...
    changtong exchange status                        everything, as JSON
    changtong exchange retry [PEER]                  send what waits in the outbox now
    changtong exchange sign-for | read ID,  exchange return ID --reason R
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
    peer = ex_sub.add_parser("peer", help="exchange nodes this node talks to").add_subparsers(dest="peer_action", required=True)
    padd = peer.add_parser("add", help="register (or replace) a peer node")
    padd.add_argument("name", help="the peer's unit code (its certificate's CN)")
    padd.add_argument("url", nargs="?", default="", help="its exchange URL, e.g. https://kenli.example:8443")
    padd.add_argument("--cert", type=Path, required=True, help="its unit certificate (pinned; also what we encrypt to)")
    padd.add_argument("--via", help="reach it through this peer (a county through the city)")
    peer.add_parser("list", help="list peers")
    send = ex_sub.add_parser("send", help="sign, encrypt and queue a document for other units")
    send.add_argument("document", type=Path, help="the document (XML)")
    send.add_argument("attachments", type=Path, nargs="*", help="attachment files")
    send.add_argument("--to", action="append", required=True, help="recipient unit code (repeatable)")
    send.add_argument("--title", required=True)
    retry = ex_sub.add_parser("retry", help="send what waits in the outbox now, not at its backoff time")
    retry.add_argument("peer", nargs="?", help="only what waits for this neighbour")
    ex_sub.add_parser("status", help="peers, sent packages and their receipts, arrivals, outbox, quarantine (JSON)")
    for action, help_ in (("sign-for", "签收: acknowledge an arrival"), ("read", "mark an arrival read")):
        a = ex_sub.add_parser(action, help=help_)
        a.add_argument("package_id")
    ret = ex_sub.add_parser("return", help="退回: return an arrival with a reason")
    ret.add_argument("package_id")
    ret.add_argument("--reason", required=True)


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
    from hub.db import upgrade

    upgrade(config)
    return asyncio.run(_with_exchange(config, lambda ex: _exchange_action(ex, args)))


async def _with_exchange(config: Any, fn: Any) -> int:
    from hub.db import Database

    from .transport import Exchange

    db = Database(config.effective_database_url)
    try:
        return await fn(Exchange(db, config.data_dir, config.exchange.max_package_bytes))
    finally:
        await db.close()


async def _exchange_action(ex: Any, args: argparse.Namespace) -> int:
    if args.action == "peer":
        if args.peer_action == "list":
            _print_json((await ex.state())["peers"])
            return 0
        name = _unit_code(args.name)
        await ex.add_peer(name, args.url, load_cert(_read_cert_or_fail(args.cert)), via=args.via)
        print(f"已登记交换节点 (peer added): {name} {args.url or '(via ' + str(args.via) + ')'}")
        return 0
    if args.action == "send":
        document = _read_file(args.document)
        attachments = {p.name: _read_file(p) for p in args.attachments}
        package_id = await ex.send_document(title=args.title, document=document, recipients=args.to, attachments=attachments)
        print(package_id)
        return 0
    if args.action == "status":
        _print_json(await ex.state())
        return 0
    if args.action == "retry":
        print(f"{await ex.retry_now(args.peer)} 个待发项将立即重试 (rows due now)")
        return 0
    if args.action == "sign-for":
        await ex.sign_for(args.package_id)
    elif args.action == "read":
        await ex.mark_read(args.package_id)
    elif args.action == "return":
        await ex.return_package(args.package_id, args.reason)
    print(f"{args.package_id}: {args.action}")
    return 0


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadRequest("error.exchange_bad_package", detail=f"{path}: {exc.strerror or exc}") from exc


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

