"""Throwaway SNS-style signing material for tests: a test CA and a signing cert it issued.

Never a real AWS key. The canonical string is built here independently of app.ingest.sns, from
the key lists in the AWS docs, so the tests check the module rather than mirror it.
"""

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: str,
    issuer_key: rsa.RSAPrivateKey,
    *,
    not_after: datetime = NOT_AFTER,
) -> bytes:
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(not_after)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Signer:
    """A signing key with its PEM certificate, issued by a test CA."""

    key: rsa.RSAPrivateKey
    cert_pem: bytes

    def sign(self, envelope: dict[str, str], version: str = "1") -> dict[str, str]:
        """Return the envelope with SignatureVersion and Signature set (v1 SHA1, v2 SHA256)."""
        # SNS still sends SignatureVersion 1 by default.
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - v1 is SHA1
        signature = self.key.sign(canonical(envelope), padding.PKCS1v15(), algorithm)
        return envelope | {
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode(),
        }


def make_signer(*, not_after: datetime = NOT_AFTER) -> Signer:
    """A fresh CA and a signing certificate issued by it."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = _certificate(
        "sns.amazonaws.com", key.public_key(), "Test SNS CA", ca_key, not_after=not_after
    )
    return Signer(key, pem)


def ec_cert_pem() -> bytes:
    """A certificate holding an EC key (SNS only signs with RSA)."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return _certificate("sns.amazonaws.com", ec_key.public_key(), "Test SNS CA", ca_key)


def canonical(envelope: dict[str, str]) -> bytes:
    """The string SNS signs, straight from the AWS documentation's key lists."""
    keys = _NOTIFICATION_KEYS if envelope["Type"] == "Notification" else _CONFIRMATION_KEYS
    return "".join(f"{k}\n{envelope[k]}\n" for k in keys if k in envelope).encode()


def body(envelope: dict[str, str]) -> bytes:
    """The envelope as SNS sends it over HTTPS (pretty JSON, text/plain)."""
    return json.dumps(envelope, indent=2, separators=(",", " : "), ensure_ascii=False).encode()
