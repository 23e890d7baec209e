"""``livecam serve --tls self-signed``: a certificate for the names the server
is reached by, made on first use and kept under the user's config folder.

Browsers give pages the camera (``getUserMedia``) only over HTTPS or on
localhost, and a token sent over plain HTTP can be read on the way: TLS is
what makes ``serve`` usable across a network. A self-signed certificate is
not trusted by browsers until the user accepts it (compare the printed
fingerprint); for a certificate browsers trust, give ``--certfile/--keyfile``.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from livecam.errors import OutputError, ServeError
from livecam.outputs import write_bytes, write_text

VALID_DAYS = 365
RENEW_BEFORE_DAYS = 14
CRYPTOGRAPHY_MISSING = '--tls self-signed needs: pip install "livecam[tls]"'


@dataclass(frozen=True)
class Certificate:
    """A certificate and its key on disk, and the names it is good for."""

    certfile: Path
    keyfile: Path
    names: frozenset[str]
    fingerprint: str  # SHA-256 of the DER certificate, as browsers show it

    @property
    def files(self) -> tuple[str, str]:
        return str(self.certfile), str(self.keyfile)


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "livecam" / "tls"


def names_for(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Every name a browser may reach a server bound to ``host`` by."""
    names = {"localhost", "127.0.0.1", "::1", *extra}
    if host in ("", "0.0.0.0", "::"):
        names.add(socket.gethostname())
    else:
        names.add(host)
    return frozenset(name.strip("[]").lower() for name in names if name)


def self_signed(names: Iterable[str], folder: Path | None = None) -> Certificate:
    """The certificate kept in ``folder`` if it covers ``names`` and is not
    about to expire; else a new one (ECDSA P-256, one year) replacing it.

    Raises:
        ServeError: ``cryptography`` is not installed, or the folder cannot be written.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise ServeError(CRYPTOGRAPHY_MISSING) from None
    folder = folder or config_dir()
    wanted = frozenset(names)
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    kept = _load(certfile, keyfile, x509)
    if kept is not None and wanted <= kept.names:
        return kept
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "livecam serve")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_alt_names(wanted, x509)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(keyfile, key_pem)
        write_text(certfile, certificate.public_bytes(serialization.Encoding.PEM).decode())
    except OSError as exc:
        raise ServeError(f"cannot keep the certificate in {folder}: {exc.strerror}") from None
    except OutputError as exc:
        raise ServeError(f"cannot keep the certificate in {folder}: {exc}") from None
    return Certificate(certfile, keyfile, wanted, _fingerprint(certificate, serialization))


def _alt_names(names: frozenset[str], x509) -> list:
    alt = []
    for name in sorted(names):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    return alt


def _load(certfile: Path, keyfile: Path, x509) -> Certificate | None:
    """The kept certificate, unless missing, unreadable or expiring soon."""
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(certfile.read_bytes())
        if not keyfile.is_file():
            return None
        alt = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return None
    left = certificate.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    if left < datetime.timedelta(days=RENEW_BEFORE_DAYS):
        return None
    names = {str(n).lower() for n in alt.get_values_for_type(x509.DNSName)}
    names |= {str(ip) for ip in alt.get_values_for_type(x509.IPAddress)}
    return Certificate(
        certfile, keyfile, frozenset(names), _fingerprint(certificate, serialization)
    )


def _fingerprint(certificate, serialization) -> str:
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def _write_private(path: Path, data: bytes) -> None:
    """The key, readable by its owner only, replaced atomically."""
    write_bytes(path, data, mode=0o600)
