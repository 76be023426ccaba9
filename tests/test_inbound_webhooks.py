"""Provider webhooks with each provider's real authentication: SNS signatures checked with
a certificate fetched over https from an allow-listed host (a local TLS server here),
Mailgun HMAC, Postmark basic auth, SendGrid's ECDSA-signed events. Bad calls answer 401
and are logged; retried calls store nothing twice; what the events do is seen through
``subscribers show``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from certs import self_signed
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from inbound_support import CORPUS, EXPECTED, corpus_project, run
from webkit import TestClient

from publisher.config import load_settings
from publisher.core import make_publisher
from publisher.inbound.webhooks import sns_string_to_sign
from publisher.tokens import verp_token
from publisher.web import create_app

HOOKS = CORPUS / "webhooks"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:publisher-bounces"
MAILGUN_KEY = "key-mailgun-signing-0123456789"


class CertHost:
    """An https server on loopback serving the SNS signing certificate and the
    subscription confirmation URL (it records what was fetched)."""

    def __init__(self, folder: Path) -> None:
        self.signing_key, self.signing_pem = self_signed("sns.test")
        tls_key, self.tls_pem = self_signed("127.0.0.1", "127.0.0.1")
        (folder / "tls.pem").write_bytes(self.tls_pem)
        (folder / "tls.key").write_bytes(
            tls_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.ca_file = folder / "tls.pem"
        self.fetched: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.fetched.append(self.path)
                body = host.signing_pem if self.path.endswith(".pem") else b"<ok/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "tls.pem", folder / "tls.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signed = dict(message, SignatureVersion=version)
        signed["SigningCertURL"] = f"{self.base}/SimpleNotificationService-test.pem"
        signature = self.signing_key.sign(sns_string_to_sign(signed), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def certs(tmp_path: Path) -> Iterator[CertHost]:
    host = CertHost(tmp_path)
    yield host
    host.close()


SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


@pytest.fixture
def root(project: Path, certs: CertHost) -> Path:
    built = corpus_project(project, f"sqlite:///{project / 'var' / 'publisher.db'}")
    with (built / ".env").open("a") as env:
        env.write(
            f"PUBLISHER_INBOUND__SES_TOPICS={TOPIC}\n"
            "PUBLISHER_INBOUND__SNS_CERT_HOSTS=127.0.0.1,sns.*.amazonaws.com\n"
            f"PUBLISHER_INBOUND__SNS_CA_FILE={certs.ca_file}\n"
            f"PUBLISHER_INBOUND__MAILGUN_SIGNING_KEY={MAILGUN_KEY}\n"
            "PUBLISHER_INBOUND__POSTMARK_USER=postmark\n"
            "PUBLISHER_INBOUND__POSTMARK_PASSWORD=pm-secret-77\n"
            f"PUBLISHER_INBOUND__SENDGRID_PUBLIC_KEY={SENDGRID_PUBLIC}\n"
        )
    return built


@pytest.fixture
def client(root: Path) -> Iterator[TestClient]:
    publisher = make_publisher(load_settings(root, environ={}))
    with TestClient(create_app(publisher)) as test_client:
        yield test_client
    publisher.close()


def show(root: Path, email: str) -> dict[str, Any]:
    return dict(json.loads(run(root, "subscribers", "show", email, "--json").output))


def sns_notification(name: str, message_id: str, source: str = "") -> dict[str, Any]:
    inner = (HOOKS / name).read_text(encoding="utf-8").replace("SOURCE", source)
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(json.loads(inner)),
        "Timestamp": "2026-11-27T07:01:11.000Z",
    }


def test_ses_subscription_bounce_and_complaint_through_signed_sns(
    client: TestClient, root: Path, certs: CertHost
) -> None:
    confirm = certs.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "c1",
            "Token": "t0k3n",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe.",
            "SubscribeURL": f"{certs.base}/?Action=ConfirmSubscription&Token=t0k3n",
            "Timestamp": "2026-11-27T06:00:00.000Z",
        }
    )
    assert client.post("/webhooks/ses", content=json.dumps(confirm)).status_code == 200
    assert "/?Action=ConfirmSubscription&Token=t0k3n" in certs.fetched
    verp = f"bounces+{verp_token(EXPECTED['secret_key'], 'digest', 7, 1)}@news.example.org"
    bounce = certs.sign(sns_notification("ses_bounce.json", "n-1", verp), version="2")
    answer = client.post("/webhooks/ses", content=json.dumps(bounce))
    assert answer.status_code == 200 and answer.json() == {"stored": 1, "duplicates": 0}
    again = client.post("/webhooks/ses", content=json.dumps(bounce))
    assert again.json() == {"stored": 0, "duplicates": 1}
    shown = show(root, "reader1@example.com")
    assert shown["status"] == "bounced"
    assert [(e["kind"], e["edition_id"], e["source"]) for e in shown["events"]] == [
        ("hard_bounce", 7, "ses")
    ]
    complaint = certs.sign(sns_notification("ses_complaint.json", "n-2"))
    assert client.post("/webhooks/ses", content=json.dumps(complaint)).status_code == 200
    assert show(root, "reader2@example.com")["status"] == "unsubscribed"


def test_ses_refuses_tampering_foreign_hosts_and_topics(
    client: TestClient, root: Path, certs: CertHost, caplog: pytest.LogCaptureFixture
) -> None:
    good = certs.sign(sns_notification("ses_bounce.json", "n-3"))
    tampered = dict(good, Message=good["Message"].replace("reader1@", "reader9@"))
    foreign = dict(good, SigningCertURL="https://certs.example.net/SimpleNotificationService.pem")
    plain_http = dict(good, SigningCertURL=good["SigningCertURL"].replace("https:", "http:"))
    other_topic = certs.sign(dict(sns_notification("ses_bounce.json", "n-4"), TopicArn="arn:x"))
    with caplog.at_level(logging.WARNING, logger="publisher.webhooks"):
        for bad in (tampered, foreign, plain_http, other_topic):
            assert client.post("/webhooks/ses", content=json.dumps(bad)).status_code == 401
    assert len([r for r in caplog.records if "refused ses webhook" in r.getMessage()]) == 4
    assert "signature does not match" in caplog.text
    assert show(root, "reader9@example.com")["events"] == []
    assert show(root, "reader1@example.com")["status"] == "active"


def mailgun_body(name: str, timestamp: int, key: str = MAILGUN_KEY) -> dict[str, Any]:
    body = json.loads((HOOKS / name).read_text(encoding="utf-8").replace("SOURCE", "x@y.z"))
    signature = body["signature"]
    signature["timestamp"] = str(timestamp)
    mac = hmac.new(key.encode(), f"{timestamp}{signature['token']}".encode(), hashlib.sha256)
    signature["signature"] = mac.hexdigest()
    return dict(body)


def test_mailgun_hmac(client: TestClient, root: Path) -> None:
    now = int(time.time())
    assert (
        client.post("/webhooks/mailgun", json=mailgun_body("mailgun_failed.json", now)).json()[
            "stored"
        ]
        == 1
    )
    assert show(root, "reader4@example.com")["status"] == "bounced"
    forged = mailgun_body("mailgun_complained.json", now, key="not-the-key")
    stale = mailgun_body("mailgun_complained.json", now - 3600)
    for bad in (forged, stale):
        assert client.post("/webhooks/mailgun", json=bad).status_code == 401
    assert show(root, "reader3@example.com")["status"] == "active"
    good = mailgun_body("mailgun_complained.json", now)
    assert client.post("/webhooks/mailgun", json=good).status_code == 200
    assert show(root, "reader3@example.com")["suppressed"].startswith("complaint (mailgun)")


def test_postmark_basic_auth(client: TestClient, root: Path) -> None:
    bounce = json.loads((HOOKS / "postmark_bounce.json").read_text())
    assert (
        client.post("/webhooks/postmark", json=bounce, auth=("postmark", "wrong")).status_code
        == 401
    )
    assert client.post("/webhooks/postmark", json=bounce).status_code == 401
    assert show(root, "reader5@example.com")["status"] == "active"
    good = client.post("/webhooks/postmark", json=bounce, auth=("postmark", "pm-secret-77"))
    assert good.status_code == 200 and good.json()["stored"] == 1
    spam = json.loads((HOOKS / "postmark_spam.json").read_text())
    client.post("/webhooks/postmark", json=spam, auth=("postmark", "pm-secret-77"))
    assert show(root, "reader5@example.com")["status"] == "bounced"
    assert show(root, "reader6@example.com")["status"] == "unsubscribed"


def sendgrid_headers(body: bytes, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def test_sendgrid_signed_events(client: TestClient, root: Path) -> None:
    body = (HOOKS / "sendgrid_events.json").read_bytes()
    other = ec.generate_private_key(ec.SECP256R1())
    refused = client.post("/webhooks/sendgrid", content=body, headers=sendgrid_headers(body, other))
    assert refused.status_code == 401
    tampered = client.post(
        "/webhooks/sendgrid",
        content=body.replace(b"reader7", b"reader1"),
        headers=sendgrid_headers(body),
    )
    assert tampered.status_code == 401
    good = client.post("/webhooks/sendgrid", content=body, headers=sendgrid_headers(body))
    assert good.json() == {"stored": 3, "duplicates": 0}  # bounce, spamreport, deferred; not open
    assert show(root, "reader7@example.com")["status"] == "bounced"
    assert show(root, "reader8@example.com")["status"] == "unsubscribed"
    assert [e["kind"] for e in show(root, "reader9@example.com")["events"]] == ["delayed"]


def test_unconfigured_webhooks_are_not_there(project: Path) -> None:
    root = corpus_project(project, f"sqlite:///{project / 'var' / 'publisher.db'}")
    publisher = make_publisher(load_settings(root, environ={}))
    with TestClient(create_app(publisher)) as bare:
        for provider in ("ses", "mailgun", "postmark", "sendgrid", "other"):
            assert bare.post(f"/webhooks/{provider}", content=b"{}").status_code == 404
    publisher.close()
