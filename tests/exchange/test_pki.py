"""The exchange PKI with real OpenSSL: `changtong ca init` / `ca issue` as the installed
command, CMS packages that `openssl cms -decrypt` and `openssl cms -verify` accept,
OpenSSL's own CMS read back by us, and mutual TLS over a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from exchange_bridge.pki import (
    CmsError, NodePki, client_context, decrypt, envelope, fingerprint, init_ca, issue_unit, load_cert, load_key,
    server_context, sign, unit_code_of, verify, verify_async,
)
from hub.cli import main

CHANGTONG = Path(sys.executable).with_name("changtong")
OPENSSL = shutil.which("openssl") or "openssl"
DOCUMENT = "关于做好2026年冬季安全生产工作的通知".encode() + bytes(range(256)) * 64  # any bytes, CR/LF included


def changtong(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHANGTONG), "--data-dir", str(data), *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, "CHANGTONG_LOG_LEVEL": "WARNING"},
    )


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([OPENSSL, *args], input=input, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> NodePki:
    """A city node that ran `ca init` and issued itself and two counties certificates."""
    data = tmp_path_factory.mktemp("city")
    run = changtong(data, "ca", "init", "--bits", "2048")
    assert run.returncode == 0, run.stderr
    assert "已创建根证书" in run.stdout
    # --host as the README writes it (it once collided with serve's --host and failed)
    for unit, extra in (("dy-city", ["--install", "--host", "127.0.0.1", "--host", "exchange.dongying.example"]), ("dy-kenli", []), ("dy-guangrao", [])):
        run = changtong(data, "ca", "issue", unit, "--name", "测试单位", "--bits", "2048", *extra)
        assert run.returncode == 0, run.stderr
    return NodePki.of(data)


def unit(pki: NodePki, code: str):
    pair = pki.issued_dir
    return load_cert(pair / f"{code}.pem"), load_key(pair / f"{code}.key")


def test_issued_certificates_name_the_unit_and_chain_to_the_ca(city: NodePki) -> None:
    for code in ("dy-city", "dy-kenli", "dy-guangrao"):
        done = openssl("verify", "-CAfile", str(city.ca.cert), "-purpose", "sslserver", str(city.issued_dir / f"{code}.pem"))
        assert done.returncode == 0, done.stderr
        done = openssl("verify", "-CAfile", str(city.ca.cert), "-purpose", "sslclient", str(city.issued_dir / f"{code}.pem"))
        assert done.returncode == 0, done.stderr
        assert unit_code_of(load_cert(city.issued_dir / f"{code}.pem")) == code
    assert (city.issued_dir / "dy-kenli.key").stat().st_mode & 0o077 == 0  # private keys are not world-readable
    assert load_cert(city.identity.cert) == load_cert(city.issued_dir / "dy-city.pem")
    san = load_cert(city.issued_dir / "dy-city.pem").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert "exchange.dongying.example" in san.get_values_for_type(x509.DNSName)
    assert city.has_identity()


def test_openssl_decrypts_and_verifies_a_package_for_each_recipient(city: NodePki, tmp_path: Path) -> None:
    sender_cert, sender_key = unit(city, "dy-kenli")
    recipients = [unit(city, "dy-city")[0], unit(city, "dy-guangrao")[0]]
    package = tmp_path / "package.p7m"
    package.write_bytes(envelope(sign(DOCUMENT, sender_cert, sender_key), recipients))
    for code in ("dy-city", "dy-guangrao"):
        inner = tmp_path / f"{code}.signed"
        done = openssl(
            "cms", "-decrypt", "-binary", "-inform", "DER", "-in", str(package),
            "-recip", str(city.issued_dir / f"{code}.pem"), "-inkey", str(city.issued_dir / f"{code}.key"), "-out", str(inner),
        )
        assert done.returncode == 0, done.stderr
        content = tmp_path / f"{code}.content"
        done = openssl(
            "cms", "-verify", "-binary", "-inform", "DER", "-in", str(inner), "-CAfile", str(city.ca.cert), "-out", str(content),
        )
        assert done.returncode == 0, done.stderr
        assert content.read_bytes() == DOCUMENT
    # the sender itself was not a recipient: it cannot open what it sent
    done = openssl(
        "cms", "-decrypt", "-binary", "-inform", "DER", "-in", str(package),
        "-recip", str(city.issued_dir / "dy-kenli.pem"), "-inkey", str(city.issued_dir / "dy-kenli.key"),
    )
    assert done.returncode != 0


def test_we_read_what_openssl_signs_and_encrypts(city: NodePki, tmp_path: Path) -> None:
    doc = tmp_path / "doc.bin"
    doc.write_bytes(DOCUMENT)
    done = openssl(
        "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-in", str(doc),
        "-signer", str(city.issued_dir / "dy-guangrao.pem"), "-inkey", str(city.issued_dir / "dy-guangrao.key"),
    )
    assert done.returncode == 0, done.stderr
    signed = done.stdout
    done = openssl("cms", "-encrypt", "-binary", "-aes256", "-outform", "DER", str(city.issued_dir / "dy-kenli.pem"), input=signed)
    assert done.returncode == 0, done.stderr
    cert, key = unit(city, "dy-kenli")
    verified = verify(decrypt(done.stdout, cert, key), city.trust_file)
    assert verified.content == DOCUMENT
    assert unit_code_of(verified.signer) == "dy-guangrao"
    assert fingerprint(verified.signer) == fingerprint(load_cert(city.issued_dir / "dy-guangrao.pem"))


async def test_verify_names_why_a_package_is_refused(city: NodePki, tmp_path: Path) -> None:
    cert, key = unit(city, "dy-kenli")
    signed = sign(DOCUMENT, cert, key)
    ok = await verify_async(signed, city.trust_file)
    assert ok.content == DOCUMENT and unit_code_of(ok.signer) == "dy-kenli"

    tampered = bytearray(signed)
    at = signed.find(DOCUMENT[:64])
    tampered[at + 70] ^= 0x01  # one bit of the document changed after signing
    with pytest.raises(CmsError) as bad:
        await verify_async(bytes(tampered), city.trust_file)
    assert bad.value.reason == "bad_signature"

    rogue_ca = init_ca(tmp_path / "rogue", name="冒充的CA", bits=2048)
    rogue = issue_unit(rogue_ca, "dy-kenli", tmp_path / "rogue-issued", bits=2048)  # same unit code, wrong issuer
    with pytest.raises(CmsError) as untrusted:
        await verify_async(sign(DOCUMENT, load_cert(rogue.cert), load_key(rogue.key)), city.trust_file)
    assert untrusted.value.reason == "untrusted_signer"

    with pytest.raises(CmsError) as junk:
        await verify_async(b"not a CMS structure", city.trust_file)
    assert junk.value.reason == "malformed"

    other_cert, other_key = unit(city, "dy-guangrao")
    with pytest.raises(CmsError) as not_ours:
        decrypt(envelope(signed, [cert]), other_cert, other_key)
    assert not_ours.value.reason == "decrypt_failed"


async def attempt(port: int, ctx: ssl.SSLContext) -> bytes | None:
    """What a client reads from the server, or None when the handshake fails
    (with TLS 1.3 the server's refusal may only arrive after the client's handshake)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        data = await reader.read()
        writer.close()
        return data
    except (ssl.SSLError, ConnectionError):
        return None


async def test_mutual_tls_admits_only_certificates_of_the_trusted_ca(city: NodePki, tmp_path: Path) -> None:
    d = city.issued_dir
    server_ctx = server_context(d / "dy-city.pem", d / "dy-city.key", city.trust_file)
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        seen.append(fingerprint(x509.load_der_x509_certificate(peer)))
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(d / "dy-kenli.pem", d / "dy-kenli.key", city.trust_file),
        )
        assert await reader.read() == b"ok"
        writer.close()
        assert seen == [fingerprint(load_cert(d / "dy-kenli.pem"))]

        no_cert = ssl.create_default_context(cafile=str(city.trust_file))
        rogue_ca = init_ca(tmp_path / "rogue", bits=2048)
        rogue = issue_unit(rogue_ca, "dy-kenli", tmp_path / "rogue-issued", bits=2048)
        rogue_ctx = ssl.create_default_context(cafile=str(city.trust_file))
        rogue_ctx.load_cert_chain(str(rogue.cert), str(rogue.key))
        for ctx in (no_cert, rogue_ctx):
            assert await attempt(port, ctx) in (None, b"")  # refused: never "ok"
        assert len(seen) == 1
    finally:
        server.close()
        await server.wait_closed()


def test_cli_refuses_bad_input_with_a_clear_message(city: NodePki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(city.root.parent)
    assert main(["--data-dir", data, "ca", "init", "--bits", "2048"]) == 1
    assert "本节点已有 CA" in capsys.readouterr().err
    assert main(["--data-dir", data, "ca", "issue", "Kenli County", "--bits", "2048"]) == 1
    assert "单位代码只能由小写字母" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path / "no-ca"), "ca", "issue", "dy-kenli", "--bits", "2048"]) == 1
    assert "还没有 CA" in capsys.readouterr().err
    other = str(tmp_path / "county")
    d = city.issued_dir
    args = ["--data-dir", other, "exchange", "identity", "--cert", str(d / "dy-kenli.pem"), "--key", str(d / "dy-guangrao.key")]
    assert main(args) == 1
    assert "私钥与证书不匹配" in capsys.readouterr().err
    assert main(["--data-dir", other, "exchange", "trust", str(tmp_path / "missing.pem")]) == 1
    assert "无法读取证书" in capsys.readouterr().err
    args = ["--data-dir", other, "exchange", "identity", "--cert", str(d / "dy-kenli.pem"), "--key", str(d / "dy-kenli.key"),
            "--ca", str(city.ca.cert)]
    assert main(args) == 0
    assert "dy-kenli" in capsys.readouterr().out
    assert NodePki.of(Path(other)).has_identity()

    rogue_ca = init_ca(tmp_path / "rogue", bits=2048)
    rogue = issue_unit(rogue_ca, "dy-city", tmp_path / "rogue", bits=2048)
    peer = ["--data-dir", other, "exchange", "peer", "add"]
    assert main([*peer, "dy-city", "https://127.0.0.1:9", "--cert", str(rogue.cert)]) == 1
    assert "不是由本节点信任的根证书签发的" in capsys.readouterr().err
    assert main([*peer, "dy-city", "--cert", str(d / "dy-city.pem")]) == 1
    assert "请给出交换节点 dy-city 的地址" in capsys.readouterr().err
    assert main([*peer, "dy-guangrao", "--cert", str(d / "dy-guangrao.pem"), "--via", "dy-city"]) == 1
    assert "没有名为 dy-city 的交换节点" in capsys.readouterr().err
    assert main([*peer, "dy-city", "https://127.0.0.1:9", "--cert", str(d / "dy-city.pem")]) == 0
    assert main([*peer, "dy-guangrao", "--cert", str(d / "dy-guangrao.pem"), "--via", "dy-city"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", other, "exchange", "send", str(d / "dy-city.pem"), "--to", "dy-lijin", "--title", "t"]) == 1
    assert "没有到单位 dy-lijin 的交换路由" in capsys.readouterr().err
    assert main(["--data-dir", other, "exchange", "peer", "list"]) == 0
    listed = {p["name"]: (p["url"], p["via"]) for p in json.loads(capsys.readouterr().out)}
    assert listed == {"dy-city": ("https://127.0.0.1:9", None), "dy-guangrao": ("", "dy-city")}


def test_every_exchange_error_key_is_translated_in_both_catalogs() -> None:
    import re

    from hub.i18n import translate

    root = Path(__file__).resolve().parents[2] / "exchange_bridge"
    keys: set[str] = set()
    for path in [root / "pki_cli.py", *root.glob("pki/*.py"), *root.glob("transport/*.py")]:
        keys |= set(re.findall(r'"(error\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    assert len(keys) > 10
    for key in sorted(keys):
        assert translate(key, "zh_CN") != key, f"{key} missing in zh_CN"
        assert translate(key, "en") != key, f"{key} missing in en"


def _government_chain(tmp_path: Path) -> tuple[Path, Path, Any]:
    """A root and an intermediate, as a government CA has them (ours: root only)."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from exchange_bridge.pki import CertPair
    from exchange_bridge.pki.ca import write_pair

    now = dt.datetime.now(dt.UTC)

    def ca_cert(name: str, key: Any, issuer: Any, issuer_key: Any, path_length: int) -> x509.Certificate:
        return (
            x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "某省政务根CA（测试）")])
    root = ca_cert("某省政务根CA（测试）", root_key, root_name, root_key, 1)
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter = ca_cert("某省政务二级CA（测试）", inter_key, root.subject, root_key, 0)
    root_pair = write_pair(root, root_key, tmp_path / "gov" / "root.pem", tmp_path / "gov" / "root.key")
    inter_pair = write_pair(inter, inter_key, tmp_path / "gov" / "inter.pem", tmp_path / "gov" / "inter.key")
    return root_pair.cert, inter_pair.cert, CertPair(inter_pair.cert, inter_pair.key)


async def test_certificates_under_a_government_root_and_intermediate_work_the_same(tmp_path: Path) -> None:
    root, intermediate, issuer = _government_chain(tmp_path)
    kenli = issue_unit(issuer, "dy-kenli", tmp_path / "issued", bits=2048)
    city = issue_unit(issuer, "dy-city", tmp_path / "issued", bits=2048)
    pki = NodePki.of(tmp_path / "node")
    assert main(["--data-dir", str(tmp_path / "node"), "exchange", "identity", "--cert", str(city.cert), "--key", str(city.key),
                 "--ca", str(root), "--ca", str(intermediate)]) == 0
    signed = sign(DOCUMENT, load_cert(kenli.cert), load_key(kenli.key))
    opened = await verify_async(decrypt(envelope(signed, [load_cert(city.cert)]), load_cert(city.cert), load_key(city.key)), pki.trust_file)
    assert opened.content == DOCUMENT and unit_code_of(opened.signer) == "dy-kenli"
    done = openssl("cms", "-verify", "-binary", "-inform", "DER", "-CAfile", str(pki.trust_file), input=signed)
    assert done.returncode == 0 and done.stdout == DOCUMENT, done.stderr
    # the exchange's mutual TLS with the pinned peer certificate
    server = await asyncio.start_server(
        lambda r, w: (w.write(b"ok"), w.close()), "127.0.0.1", 0,
        ssl=server_context(city.cert, city.key, pki.trust_file),
    )
    port = server.sockets[0].getsockname()[1]
    try:
        pinned = client_context(kenli.cert, kenli.key, pki.trust_file, pinned_pem=city.cert.read_text())
        assert await attempt(port, pinned) == b"ok"
        wrong_pin = client_context(kenli.cert, kenli.key, pki.trust_file, pinned_pem=kenli.cert.read_text())
        assert await attempt(port, wrong_pin) is None  # another certificate of the same CA is not the peer
    finally:
        server.close()
        await server.wait_closed()
